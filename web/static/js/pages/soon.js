// Pages that are named in the navigation but not built yet: what they will show, and no made-up data.

import { card, emptyState, pageHeader } from "../components.js";
import { h, mount } from "../dom.js";

export async function livePage({ root }) {
  mount(root,
    pageHeader({ title: "Live calls" }),
    h("div", { class: "page-body" }, card({}, emptyState(
      "Live calls are coming",
      "Calls in progress will be listed here with their transcripts streaming as they are spoken. Until then, the Calls page lists calls in progress with “Live only”."))));
}
