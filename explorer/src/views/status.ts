import type { View } from "../app.ts";

export const statusView: View = (_app, root) => {
  root.append(Object.assign(document.createElement("section"), { textContent: "Status" }));
  root.querySelector("section")!.dataset.ready = "";
};
