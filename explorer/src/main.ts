document.getElementById("root")!.textContent = "edgemem";
