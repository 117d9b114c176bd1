// The own-prices panel: a forecast of closes the user pastes or uploads.

import { ApiError, postJSON } from "./api.js";
import { bandTraces } from "./forecast.js";
import { $, setMessage } from "./ui.js";

const OWN_HISTORY_SHOWN = 250; // own-prices chart: the last closes drawn before the forecast

// Closes from pasted text: a CSV with a header (the `close` column, else the last one; its
// `date` column, when there is one, gives the x axis) or any list of numbers. A token that is
// not a number is sent as it is, so the API names it. Returns {prices, dates} (dates: null).
export function parseCloses(text) {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (!lines.length) return { prices: [], dates: null };
  const header = lines[0].split(/[,;\t]/).map((c) => c.trim().toLowerCase().replace(/^"|"$/g, ""));
  const isHeader = lines.length > 1 && header.length > 1 && header.some((c) => c && Number.isNaN(Number(c)));
  let tokens;
  let dates = null;
  if (isHeader) {
    let column = header.indexOf("close");
    if (column < 0) column = header.findIndex((c) => c.includes("close"));
    if (column < 0) column = header.length - 1;
    const rows = lines.slice(1).map((l) => l.split(/[,;\t]/).map((c) => c.trim().replace(/^"|"$/g, "")));
    tokens = rows.map((cells) => cells[column] || "");
    const dateColumn = header.findIndex((c) => c === "date" || c === "day" || c === "timestamp");
    if (dateColumn >= 0) {
      const parsed = rows.map((cells) => (cells[dateColumn] || "").slice(0, 10));
      // Dates only when every row has one, oldest first: else the x axis is steps.
      const valid = parsed.every((d, i) => /^\d{4}-\d{2}-\d{2}$/.test(d) && !Number.isNaN(Date.parse(d)) && (i === 0 || d > parsed[i - 1]));
      if (valid) dates = parsed;
    }
  } else {
    tokens = text.split(/[\s,;]+/).filter(Boolean);
  }
  const prices = tokens.map((token) => {
    const value = Number(token);
    return token !== "" && Number.isFinite(value) ? value : token;
  });
  return { prices, dates };
}

// The `count` weekdays after the ISO date `last` (a sent history has no exchange calendar).
function weekdaysAfter(last, count) {
  const days = [];
  const day = new Date(`${last}T00:00:00Z`);
  while (days.length < count) {
    day.setUTCDate(day.getUTCDate() + 1);
    if (day.getUTCDay() !== 0 && day.getUTCDay() !== 6) days.push(day.toISOString().slice(0, 10));
  }
  return days;
}

// A failed forecast leaves no chart behind: the message is the panel's answer.
function clearOwnChart() {
  const chart = $("own-chart");
  Plotly.purge(chart);
  chart.replaceChildren();
  chart.dataset.state = "error";
  delete chart.dataset.horizon;
}

export async function forecastOwnPrices() {
  const field = $("own-prices");
  const horizon = Number($("own-horizon").value);
  const { prices, dates } = parseCloses(field.value);
  setMessage("own-error", null);
  field.removeAttribute("aria-invalid");
  let forecast;
  try {
    forecast = await postJSON("/api/v1/predict", { prices, horizon: Number.isInteger(horizon) ? horizon : $("own-horizon").value });
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    clearOwnChart();
    setMessage("own-error", error.message);
    field.setAttribute("aria-invalid", "true");
    return;
  }
  const shown = prices.slice(-OWN_HISTORY_SHOWN);
  let x;
  let steps;
  let xaxis;
  if (dates) {
    x = dates.slice(-OWN_HISTORY_SHOWN);
    steps = weekdaysAfter(x[x.length - 1], forecast.predictions.length);
    xaxis = { type: "date", title: { text: "date (forecast steps on the weekdays after your last date)" } };
  } else {
    x = shown.map((_, i) => i - shown.length + 1); // 0 = your last close
    steps = forecast.predictions.map((s) => s.step);
    xaxis = { title: { text: "trading days from your last close" } };
  }
  const traces = [
    { name: "your closes", x, y: shown, mode: "lines", line: { color: "#1f6feb", width: 1.5 } },
    ...bandTraces(steps, forecast, x[x.length - 1] ?? 0, shown[shown.length - 1]),
  ];
  const chart = $("own-chart");
  chart.dataset.state = "drawing";
  Plotly.react(
    chart,
    traces,
    {
      margin: { l: 50, r: 10, t: 10, b: 40 },
      legend: { orientation: "h", y: 1.15 },
      xaxis,
    },
    { responsive: true, displaylogo: false },
  );
  chart.dataset.horizon = String(forecast.horizon);
  chart.dataset.state = "forecast";
}
