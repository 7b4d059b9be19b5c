// What the demo's typing job writes (dev-typing.ts); the browser test compares the page with it.
export const TYPING_PARAGRAPH =
  "Dovetail keeps a job's output in a durable stream, so every word the model writes is stored before anyone sees it. " +
  "A browser follows it over one hibernatable socket and renders each word as it arrives. " +
  "Reload the page in the middle and the text so far comes back at once, then the rest keeps typing from exactly where it was, " +
  "with nothing lost and nothing twice. Cancel it and the writer stops at its next word.";
