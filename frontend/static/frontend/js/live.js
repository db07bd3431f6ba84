// The search's websocket: events after a cursor, in order, with automatic reconnection.
//
// The server replays every stored event after ?after=<cursor> and then streams live ones
// (nasweb/searches/consumers.py), so reconnecting with the last event id loses nothing.
import { urls } from "./api.js";

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];

export class LiveSearch {
  // onEvent(event) for each event; onStatus("connecting" | "live" | "reconnecting" | "closed")
  constructor(searchId, cursor, { onEvent, onStatus, onReconnect } = {}) {
    this.searchId = searchId;
    this.cursor = cursor;
    this.onEvent = onEvent || (() => {});
    this.onStatus = onStatus || (() => {});
    this.onReconnect = onReconnect || (() => {});
    this.attempt = 0;
    this.stopped = false;
    this.connects = 0;
    this.socket = null;
    this.connect();
    window.addEventListener("online", () => { if (!this.socket) this.connect(); });
  }

  connect() {
    if (this.stopped) return;
    this.onStatus(this.connects ? "reconnecting" : "connecting");
    let socket;
    try {
      socket = new WebSocket(urls.socket(this.searchId, this.cursor));
    } catch {
      this.retry();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      if (this.connects++) this.onReconnect();
      this.onStatus("live");
    });
    socket.addEventListener("message", (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch { return; }
      if (typeof event.id === "number") {
        if (event.id <= this.cursor) return; // already applied
        this.cursor = event.id;
      }
      this.onEvent(event);
    });
    socket.addEventListener("close", (event) => {
      this.socket = null;
      if (this.stopped) return;
      if (event.code === 4403) { this.stopped = true; this.onStatus("closed"); return; }
      this.retry();
    });
    // "error" is always followed by "close"; nothing to do here.
  }

  retry() {
    if (this.stopped) return;
    this.onStatus("reconnecting");
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000);
    this.onStatus("closed");
  }
}
