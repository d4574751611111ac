/** A page of the dashboard. */
export interface View {
  /** Builds the page into root and loads its data. */
  mount(root: HTMLElement): Promise<void>;
  /** Live update (every ~2 s while visible): refetches only what changed, keeps the user's state. */
  tick(): Promise<void>;
  destroy(): void;
}
