"""The call page's player and transcript: one Streamlit component (`st.components.v2`) in the page itself.

The <audio> element plays callqa's authorised route (`/callqa/audio/<call>`, never `/media`). The
transcript starts at the top, highlights the line being played and (unless switched off) keeps it in
view. Any element with `data-callqa-seek="<seconds>"` anywhere in the page (transcript lines, the
scorecard's evidence and window buttons, written with `seek_html`) seeks the player and plays, in the
browser alone: no script run, and the same button works every time it is clicked.
`data-callqa-until` stops playback at the end of a window. Text goes in with `textContent` (never as
HTML), so nothing said in a call can become markup.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import streamlit as st

from dashboards.fmt import mmss

CSS = """
.callqa-player audio { width: 100%; height: 40px; }
.callqa-player .callqa-bar { display: flex; justify-content: space-between; align-items: center;
  font-size: 0.8rem; color: var(--st-gray-color, #777); margin: 2px 0 4px; }
.callqa-transcript { overflow-y: auto; border: 1px solid rgba(49, 51, 63, 0.15); border-radius: 8px;
  padding: 4px 6px; scroll-behavior: smooth; }
.callqa-utt { padding: 4px 8px; margin: 2px 0; border-radius: 6px; cursor: pointer; border-left: 4px solid #bbb;
  line-height: 1.35; }
.callqa-utt:hover { background: rgba(28, 131, 225, 0.08); }
.callqa-utt.agent { border-left-color: #1c83e1; }
.callqa-utt.customer { border-left-color: #ff8700; margin-left: 18px; }
.callqa-utt.callqa-playing { background: #fff3bf; }
.callqa-utt .callqa-head { font-size: 0.75rem; color: #555; font-weight: 600; }
.callqa-utt .callqa-mood { font-weight: 400; margin-left: 6px; }
.callqa-seek-btn { border: 1px solid rgba(49, 51, 63, 0.25); background: transparent; border-radius: 6px;
  padding: 1px 8px; font-size: 0.8rem; cursor: pointer; margin: 2px 4px 2px 0; }
.callqa-seek-btn:hover { border-color: #1c83e1; color: #1c83e1; }
"""

JS = r"""
function locate(lines, t) {
  let lo = 0, hi = lines.length - 1, found = -1;
  while (lo <= hi) { const mid = (lo + hi) >> 1; if (lines[mid].start <= t) { found = mid; lo = mid + 1; } else hi = mid - 1; }
  return found >= 0 && t < lines[found].end + 0.25 ? found : -1;
}
export default function(component) {
  const { data, parentElement } = component;
  let root = parentElement.querySelector('.callqa-player');
  if (!root) { root = document.createElement('div'); root.className = 'callqa-player'; parentElement.appendChild(root); }
  const sig = data.src + '|' + data.sig;
  if (root.dataset.sig !== sig) {
    root.dataset.sig = sig;
    root.replaceChildren();
    const audio = document.createElement('audio');
    audio.controls = true; audio.preload = 'metadata'; audio.src = data.src;
    audio.dataset.callId = data.call_id;
    if (data.start > 0) audio.currentTime = data.start;
    root.appendChild(audio);
    const bar = document.createElement('div'); bar.className = 'callqa-bar';
    const note = document.createElement('span'); note.textContent = data.note; bar.appendChild(note);
    const label = document.createElement('label');
    const follow = document.createElement('input'); follow.type = 'checkbox'; follow.checked = true;
    follow.className = 'callqa-follow';
    label.appendChild(follow); label.appendChild(document.createTextNode(' ' + data.follow_label));
    bar.appendChild(label); root.appendChild(bar);
    const box = document.createElement('div'); box.className = 'callqa-transcript';
    box.style.height = data.height + 'px';
    const els = [];
    for (const u of data.lines) {
      const el = document.createElement('div');
      el.className = 'callqa-utt ' + u.role; el.dataset.callqaSeek = String(u.start);
      el.dataset.start = String(u.start); el.dataset.end = String(u.end); el.title = data.play_label + ' ' + u.at;
      const head = document.createElement('div'); head.className = 'callqa-head'; head.textContent = u.head;
      if (u.mood) { const m = document.createElement('span'); m.className = 'callqa-mood'; m.textContent = u.mood; head.appendChild(m); }
      const body = document.createElement('div'); body.textContent = u.text;
      el.appendChild(head); el.appendChild(body); box.appendChild(el); els.push(el);
    }
    root.appendChild(box);
    box.scrollTop = 0;
    let current = -1;
    audio.addEventListener('timeupdate', () => {
      const t = audio.currentTime;
      if (window.__callqaStopAt != null && t >= window.__callqaStopAt) { audio.pause(); window.__callqaStopAt = null; }
      const i = locate(data.lines, t);
      if (i === current) return;
      if (current >= 0 && els[current]) els[current].classList.remove('callqa-playing');
      current = i;
      if (i < 0) return;
      els[i].classList.add('callqa-playing');
      if (follow.checked) box.scrollTop = Math.max(0, els[i].offsetTop - box.offsetTop - box.clientHeight / 3);
    });
  }
  window.__callqaAudio = root.querySelector('audio');
  if (!window.__callqaSeekInstalled) {
    window.__callqaSeekInstalled = true;
    document.addEventListener('click', (e) => {
      const el = e.target.closest && e.target.closest('[data-callqa-seek]');
      if (!el) return;
      const audio = window.__callqaAudio;
      if (!audio || !audio.isConnected) return;
      e.preventDefault();
      const until = el.dataset.callqaUntil;
      window.__callqaStopAt = until ? parseFloat(until) : null;
      audio.currentTime = parseFloat(el.dataset.callqaSeek);
      const p = audio.play(); if (p && p.catch) p.catch(() => {});
    }, true);
  }
}
"""

_COMPONENT = st.components.v2.component("callqa_player", css=CSS, js=JS, isolate_styles=False)


def player(call_id: str, src: str, lines: Sequence[dict[str, Any]], *, note: str, follow_label: str, play_label: str,
           start_s: float = 0.0, height: int = 520, key: str = "callqa_player") -> None:
    """Mount the player + transcript. `lines`: dicts with start, end, role, head, text, at, mood (optional)."""
    sig = f"{call_id}:{len(lines)}:{lines[-1]['end'] if lines else 0}"
    _COMPONENT(key=key, data={"call_id": call_id, "src": src, "lines": list(lines), "sig": sig, "note": note,
                              "follow_label": follow_label, "play_label": play_label, "start": float(start_s),
                              "height": int(height)})


def seek_html(seconds: float, label: str, until_s: float | None = None, title: str | None = None) -> str:
    """A button (for `st.html`) that plays the call from `seconds` (to `until_s`), in the browser alone."""
    until = f' data-callqa-until="{until_s:.2f}"' if until_s is not None else ""
    tip = html.escape(title or f"{label} {mmss(seconds)}", quote=True)
    return (f'<button class="callqa-seek-btn" type="button" data-callqa-seek="{float(seconds):.2f}"{until} '
            f'title="{tip}">&#9654; {html.escape(label)}</button>')
