// What every panel shares: the page's one state object and the URL that mirrors it.

export const state = {
  paths: new Set(), // paths of the server's OpenAPI document
  health: null,
  tickers: [],
  ticker: null,
  horizon: 5,
  history: null, // {ticker, dates, closes}
  model: null, // GET /api/v1/model
  backtest: null, // GET /api/v1/backtest
  monitoring: null, // GET /api/v1/monitoring
  drawSeq: 0, // the newest chart request; older answers are dropped
  lastMetrics: null, // {at, requests} of the previous /metrics poll
};

export function readUrl() {
  const params = new URLSearchParams(window.location.search);
  const asked = params.get("horizon");
  const horizon = Number(asked);
  const valid = asked !== null && asked.trim() !== "" && Number.isInteger(horizon) && horizon >= 1 && horizon <= 30;
  return {
    ticker: params.get("ticker") ? params.get("ticker").toUpperCase() : null,
    horizon: valid ? horizon : null,
    // what the address asked for when it was not a horizon (the page says so), else null
    invalidHorizon: asked !== null && !valid ? asked : null,
  };
}

export function writeUrl() {
  const params = new URLSearchParams();
  if (state.ticker) params.set("ticker", state.ticker);
  params.set("horizon", String(state.horizon));
  window.history.replaceState(null, "", `?${params}`);
}
