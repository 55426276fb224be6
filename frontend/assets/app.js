// The trading page: a live table of stocks fed by /stocks/events, a trade form and an order
// lookup. Plain script, no build step; served from the frontend binary.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const rowsBody = $('stock-rows');
  const stockSelect = $('trade-stock');
  const tradeForm = $('trade-form');
  const tradeButton = $('trade-submit');
  const tradeResult = $('trade-result');
  const lookupForm = $('lookup-form');
  const lookupButton = $('lookup-submit');
  const lookupResult = $('lookup-result');

  /** name -> { row, version } */
  const stocks = new Map();
  const priceFormat = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const quantityFormat = new Intl.NumberFormat();

  // ---- connection state ------------------------------------------------------------------

  const STATES = {
    connecting: 'Connecting\u2026',
    live: 'Live',
    reconnecting: 'Connection lost; reconnecting\u2026',
    offline: 'Offline; retrying',
  };

  function setConnection(state, detail) {
    document.body.dataset.connection = state;
    $('connection').textContent = detail ? `${STATES[state]} ${detail}` : STATES[state];
  }

  // ---- the live table --------------------------------------------------------------------

  function cell(text, numeric) {
    const td = document.createElement('td');
    if (numeric) td.className = 'num';
    td.textContent = text;
    return td;
  }

  function insertSorted(parent, node, name, selector) {
    const after = Array.from(parent.querySelectorAll(selector)).find((n) => n.dataset.name > name);
    parent.insertBefore(node, after || null);
  }

  function addStock(stock) {
    const row = document.createElement('tr');
    row.dataset.name = stock.name;
    const head = document.createElement('th');
    head.scope = 'row';
    head.textContent = stock.name;
    row.append(head, cell('', true), cell('', true));
    const placeholder = rowsBody.querySelector('.placeholder');
    if (placeholder) placeholder.remove();
    insertSorted(rowsBody, row, stock.name, 'tr[data-name]');

    const option = document.createElement('option');
    option.value = stock.name;
    option.textContent = stock.name;
    option.dataset.name = stock.name;
    insertSorted(stockSelect, option, stock.name, 'option');

    const entry = { row, version: -1 };
    stocks.set(stock.name, entry);
    return entry;
  }

  function showStock(stock, arrivedAt) {
    const entry = stocks.get(stock.name) || addStock(stock);
    // Versions only grow; a repeat of the current one (a resent state) changes nothing.
    if (stock.version < entry.version) return;
    const changed = entry.version >= 0 && stock.version > entry.version;
    entry.version = stock.version;
    const { row } = entry;
    row.cells[1].textContent = priceFormat.format(stock.price);
    row.cells[2].textContent = quantityFormat.format(stock.quantity);
    row.dataset.version = String(stock.version);
    row.dataset.quantity = String(stock.quantity);
    row.dataset.eventAt = String(arrivedAt);
    if (changed) flash(row);
  }

  function flash(row) {
    row.classList.remove('settled');
    row.classList.add('changed');
    setTimeout(() => {
      row.classList.remove('changed');
      row.classList.add('settled');
    }, 50);
  }

  // ---- the event stream, reconnecting by itself ------------------------------------------

  let source = null;
  let retryDelay = 1000;

  function connect() {
    setConnection(stocks.size ? 'reconnecting' : 'connecting');
    source = new EventSource('/stocks/events');
    source.addEventListener('stock', (event) => {
      const arrivedAt = performance.now();
      try {
        showStock(JSON.parse(event.data), arrivedAt);
      } catch (err) {
        console.warn('ignoring a malformed stock event', err);
      }
    });
    source.addEventListener('synced', () => {
      retryDelay = 1000;
      setConnection('live');
    });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        // Refused (e.g. 503 while the catalog is away): the browser gives up, so we retry.
        source.close();
        const seconds = Math.round(retryDelay / 1000);
        setConnection('offline', `in ${seconds} s`);
        setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 16000);
      } else {
        // The browser reconnects by itself after the server's retry hint.
        setConnection('reconnecting');
      }
    });
  }

  // ---- answers ---------------------------------------------------------------------------

  function show(target, text, state) {
    target.textContent = text;
    target.className = state ? `result ${state}` : 'result';
    target.dataset.state = state || 'pending';
  }

  function errorText(body, response) {
    const message = body && body.error && body.error.message;
    return message ? `Error ${response.status}: ${message}` : `Error ${response.status}`;
  }

  async function readJson(response) {
    try {
      return await response.json();
    } catch (err) {
      return null;
    }
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** fetch, retried after network errors (never after an answer) with the same request. */
  async function fetchWithRetries(url, init) {
    const pauses = [300, 1000];
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await fetch(url, init);
      } catch (err) {
        if (attempt >= pauses.length) throw err;
        await sleep(pauses[attempt]);
      }
    }
  }

  // ---- trading ---------------------------------------------------------------------------

  function newKey() {
    if (window.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
    // Pages served over plain HTTP from another host have no randomUUID.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** The order being placed and its key: kept until an answer settles it, so that sending the
   *  same order again after a network error or a 503 reuses the key and trades at most once. */
  let pendingOrder = null;
  let trading = false;

  async function placeOrder(event) {
    event.preventDefault();
    if (trading) return;
    const name = stockSelect.value;
    const quantityText = $('trade-quantity').value.trim();
    const type = tradeForm.elements.type.value;
    if (!name) {
      show(tradeResult, 'Choose a stock first.', 'error');
      return;
    }
    if (!/^\d+$/.test(quantityText)) {
      show(tradeResult, 'Quantity must be a whole number from 1 to 1,000,000.', 'error');
      return;
    }
    const body = JSON.stringify({ name, quantity: Number(quantityText), type });
    if (!pendingOrder || pendingOrder.body !== body) pendingOrder = { body, key: newKey() };
    const { key } = pendingOrder;

    trading = true;
    tradeButton.disabled = true;
    show(tradeResult, 'Placing the order\u2026');
    try {
      const response = await fetchWithRetries('/orders', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key },
        body,
      });
      const answer = await readJson(response);
      // 503: the order may or may not have been placed; sending it again reuses the key.
      if (response.status !== 503) pendingOrder = null;
      if (response.ok && answer && answer.data) {
        const number = answer.data.transaction_number;
        tradeResult.dataset.transaction = String(number);
        const verb = type === 'buy' ? 'Bought' : 'Sold';
        show(tradeResult, `Transaction ${number}: ${verb} ${quantityText} ${name}.`, 'ok');
      } else {
        delete tradeResult.dataset.transaction;
        show(tradeResult, errorText(answer, response), 'error');
      }
    } catch (err) {
      show(tradeResult, 'No answer from the server. Place the same order again to retry; it will not trade twice.', 'error');
    } finally {
      trading = false;
      tradeButton.disabled = false;
    }
  }

  // ---- order lookup ----------------------------------------------------------------------

  async function lookUpOrder(event) {
    event.preventDefault();
    const number = $('lookup-number').value.trim();
    if (!/^\d+$/.test(number)) {
      show(lookupResult, 'A transaction number is a whole number from 0.', 'error');
      return;
    }
    lookupButton.disabled = true;
    show(lookupResult, 'Looking the order up\u2026');
    try {
      const response = await fetchWithRetries(`/orders/${number}`, { headers: { Accept: 'application/json' } });
      const answer = await readJson(response);
      if (response.ok && answer && answer.data) {
        const order = answer.data;
        show(lookupResult, `Order ${order.number}: ${order.type} ${order.quantity} ${order.name}.`, 'ok');
      } else {
        show(lookupResult, errorText(answer, response), 'error');
      }
    } catch (err) {
      show(lookupResult, 'No answer from the server; try again.', 'error');
    } finally {
      lookupButton.disabled = false;
    }
  }

  tradeForm.addEventListener('submit', placeOrder);
  lookupForm.addEventListener('submit', lookUpOrder);
  connect();
})();
