// The backtest's claims for the chosen ticker and step: per model the Diebold–Mariano test
// against naive (Holm-corrected across tickers), its share of "up" forecasts next to the base
// rate, a network's seed range; for the step, the SPA p-value and the model confidence set.

import { $, fmt, pct, row, setMessage } from "./ui.js";

function verdict(dm, level) {
  if (!dm || dm.p_holm === null || dm.p_holm === undefined || dm.statistic === null) return "no test";
  if (dm.p_holm >= level) return "no significant difference";
  return dm.statistic < 0 ? "beats naive" : "worse than naive";
}

export function hideSignificance() {
  $("significance").hidden = true;
  setMessage("backtest-universe", null);
  setMessage("significance-summary", null);
}

export function renderSignificance(backtest, ticker, key) {
  const models = backtest.models || {};
  const universe = backtest.universe || [];
  setMessage(
    "backtest-universe",
    universe.length ? `Universe: ${universe.length} ticker(s): ${universe.join(", ")}.` : null,
  );
  const level = backtest.significance_level ?? 0.05;
  const rows = Object.entries(models)
    .filter(([name, entry]) => name !== "naive" && entry.tickers?.[ticker]?.[key]?.dm)
    .map(([name, entry]) => {
      const cell = entry.tickers[ticker][key];
      const spread = entry.seed_spread?.[ticker]?.[key];
      const seeds = entry.seeds ? `${fmt(spread?.range, 4)} (${entry.seeds.length} seeds)` : "–";
      const claim = verdict(cell.dm, level);
      return row(
        [
          [name],
          [fmt(cell.dm.statistic), true],
          [fmt(cell.dm.p_holm, 3), true],
          [claim],
          [pct(cell.positive_share), true],
          [pct(cell.base_rate), true],
          [seeds, true],
        ],
        claim === "beats naive" ? "win" : claim === "worse than naive" ? "loss" : undefined,
      );
    });
  const table = $("significance");
  if (!rows.length) {
    table.hidden = true;
    setMessage("significance-summary", null);
    return;
  }
  $("significance-caption").textContent =
    `${ticker}, ${key.slice(1)} business day(s) ahead: Diebold–Mariano against naive, Holm-corrected across ${universe.length || "the"} tickers at ${Math.round(level * 100)}%.`;
  table.tBodies[0].replaceChildren(...rows);
  table.hidden = false;
  const step = backtest.significance?.[key];
  setMessage(
    "significance-summary",
    step
      ? `All tickers at this step: SPA p-value ${fmt(step.spa_p_value, 3)} (small: some model beats naive); model confidence set: ${(step.mcs || []).join(", ") || "–"}.`
      : null,
  );
}
