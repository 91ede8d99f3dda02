import type { View } from "../app.ts";

export const graphView: View = (_app, root) => {
  root.append(Object.assign(document.createElement("section"), { textContent: "Graph" }));
  root.querySelector("section")!.dataset.ready = "";
};
