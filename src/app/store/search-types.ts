// The command palette's state (go to and search, docs/search.md).

/** The results of the last search, for the run they were found in. */
export interface SearchResults {
  query: string;
  description: string;
  steps: number[];
  notes: string[];
  total: number;
  ms: number;
}

export interface SearchError {
  message: string;
  /** 1-based column of the word that could not be read. */
  column: number;
  length: number;
}

export interface SearchValues {
  paletteOpen: boolean;
  /** The text in the palette's field. */
  searchQuery: string;
  searchResults: SearchResults | null;
  /** The last query could not be read: what and where (nothing else changed). */
  searchError: SearchError | null;
  searchBusy: boolean;
}

export interface SearchActions {
  openPalette(): void;
  closePalette(): void;
  setSearchQuery(query: string): void;
  /**
   * Runs the query: a go-to jumps there (and closes the palette); a search lists its results
   * and jumps to the first one after the step on screen. A query that cannot be read only
   * sets searchError.
   */
  runSearch(query: string): Promise<void>;
  /** Runs the last search again on the run now on screen (after a load). */
  rerunSearch(): Promise<void>;
  /** Jumps to the next (1) or previous (-1) result from the step on screen; false when none. */
  searchStep(direction: 1 | -1): boolean;
  clearSearch(): void;
}
