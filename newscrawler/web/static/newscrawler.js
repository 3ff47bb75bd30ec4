// newscrawler: stored UTC times shown in the reader's zone, and "copy as text" of a diff.
// Archived text is only ever read and written as text (textContent, clipboard), never as HTML.
const pad = (n) => String(n).padStart(2, "0");

function localTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return null;
  const zone = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" })
    .formatToParts(date).find((p) => p.type === "timeZoneName");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    (zone ? ` ${zone.value}` : "");
}

for (const el of document.querySelectorAll("time.nc-time[datetime]")) {
  const shown = localTime(el.getAttribute("datetime"));
  if (shown) el.textContent = shown;
}

for (const button of document.querySelectorAll("button.nc-copy")) {
  button.addEventListener("click", async () => {
    const status = button.parentElement.querySelector(".nc-copied");
    const text = await (await fetch(button.dataset.textHref)).text();
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = "copied";
    } catch (err) {  // no clipboard (an insecure origin, a refused permission): select it instead
      let area = button.parentElement.querySelector("textarea.nc-copy-text");
      if (!area) {
        area = document.createElement("textarea");
        area.className = "nc-copy-text";
        area.rows = 12;
        area.cols = 80;
        area.readOnly = true;
        button.parentElement.append(area);
      }
      area.value = text;
      area.select();
      status.textContent = "select and copy the text below";
    }
  });
}

// Datasette closes every open <details> on a click outside it: once a reader unfolds unchanged
// paragraphs, they are moved out of their <details> so that they stay in view.
for (const folded of document.querySelectorAll("details.unchanged")) {
  folded.addEventListener("toggle", () => {
    if (!folded.open) return;
    const inner = folded.querySelector(".folded");
    inner.classList.add("unfolded");
    folded.replaceWith(inner);
  });
}
