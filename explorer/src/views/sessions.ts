import type { View } from "../app.ts";

export const sessionsView: View = (_app, root) => {
  root.append(Object.assign(document.createElement("section"), { textContent: "Sessions" }));
  root.querySelector("section")!.dataset.ready = "";
};
export const sessionView: View = (_app, root, id) => {
  root.append(Object.assign(document.createElement("section"), { textContent: `Session ${id}` }));
  root.querySelector("section")!.dataset.ready = "";
};
