import type { View } from "../app.ts";

export const memoriesView: View = (_app, root) => {
  root.append(Object.assign(document.createElement("section"), { textContent: "Memories" }));
  root.querySelector("section")!.dataset.ready = "";
};
export const memoryView: View = (_app, root, id) => {
  root.append(Object.assign(document.createElement("section"), { textContent: `Memory ${id}` }));
  root.querySelector("section")!.dataset.ready = "";
};
