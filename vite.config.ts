import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The app is served and built fully offline: no CDN, every asset from the bundle.
export default defineConfig({
  plugins: [react()],
  base: './',
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true },
});
