// Small DOM and number helpers every panel uses.

export const $ = (id) => document.getElementById(id);

export function fmt(value, digits = 2) {
  return value === null || value === undefined || Number.isNaN(value) ? "–" : Number(value).toFixed(digits);
}

export function pct(value) {
  return value === null || value === undefined ? "–" : `${(100 * value).toFixed(1)}%`;
}

export function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

export function row(cells, className) {
  const tr = element("tr", null, className);
  for (const [text, numeric] of cells) tr.append(element("td", text, numeric ? "num" : undefined));
  return tr;
}

// Text with `code` spans, set safely (no HTML from the server is ever interpreted).
export function setRichText(node, text) {
  node.replaceChildren();
  String(text)
    .split(/(`[^`]+`)/)
    .forEach((part) => {
      if (part.startsWith("`") && part.endsWith("`") && part.length > 1) node.append(element("code", part.slice(1, -1)));
      else if (part) node.append(document.createTextNode(part));
    });
}

export function setMessage(id, text) {
  const node = $(id);
  node.hidden = !text;
  if (text) setRichText(node, text);
  else node.replaceChildren();
}

export function notice(kind, lines) {
  const box = element("div", null, `notice ${kind}`);
  box.dataset.kind = kind;
  for (const line of lines.filter(Boolean)) {
    const p = element("p");
    setRichText(p, line);
    box.append(p);
  }
  $("notices").append(box);
}

// The report step (h1, h5, h30 ...) closest to the chosen horizon without exceeding it.
export function stepKey(keys, horizon) {
  const steps = keys
    .map((key) => Number(String(key).replace(/^h/, "")))
    .filter((k) => Number.isFinite(k))
    .sort((a, b) => a - b);
  if (!steps.length) return null;
  const below = steps.filter((k) => k <= horizon);
  return `h${below.length ? below[below.length - 1] : steps[0]}`;
}
