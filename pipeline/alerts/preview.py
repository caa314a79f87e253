"""A Slack Block Kit message rendered as standalone HTML (for docs and screenshots). Pure; never sent anywhere.

Covers the blocks ``pipeline.brief.slack_blocks`` emits: header, section (text and fields), actions (buttons),
context; mrkdwn's *bold*, _italic_, `code`, <@member> mentions and line breaks.
"""

from __future__ import annotations

import html
import re

CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;background:#fff;margin:0;padding:16px;width:760px}
.msg{display:flex;gap:10px}.avatar{width:36px;height:36px;border-radius:6px;background:#ff7a59;color:#fff;
font-weight:700;display:flex;align-items:center;justify-content:center}.who{font-weight:700;font-size:15px}
.app{font-size:10px;background:#e8e8e8;border-radius:3px;padding:1px 4px;margin-left:4px;color:#555}
.time{color:#616061;font-size:12px;margin-left:6px}.body{font-size:15px;line-height:1.45;color:#1d1c1d;flex:1}
h3{font-size:17px;margin:6px 0}.sec{margin:8px 0}.fields{display:grid;grid-template-columns:1fr 1fr;gap:8px 16px;
margin:8px 0}.btn{display:inline-block;border:1px solid #bbb;border-radius:4px;padding:4px 12px;font-weight:700;
font-size:14px;margin:6px 0}.ctx{color:#616061;font-size:12px;margin-top:6px}code{background:#f4f4f4;
border:1px solid #ddd;border-radius:3px;padding:0 3px;font-size:12px;color:#e01e5a}
.mention{background:#e8f5fa;color:#1264a3;border-radius:3px;padding:0 2px}
"""


def mrkdwn(text: str) -> str:
    out = html.escape(text)
    out = re.sub(r"&lt;@([A-Z0-9]+)&gt;", r'<span class="mention">@\1</span>', out)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*([^*\n]+)\*", r"<b>\1</b>", out)
    out = re.sub(r"(?<![\w/])_([^_\n]+)_(?!\w)", r"<i>\1</i>", out)
    return out.replace("\n", "<br>")


def blocks_to_html(blocks: list[dict], *, sender: str = "Lead handoff", at: str = "") -> str:
    parts = []
    for block in blocks:
        kind = block["type"]
        if kind == "header":
            parts.append(f"<h3>{html.escape(block['text']['text'])}</h3>")
        elif kind == "section" and block.get("fields"):
            cells = "".join(f"<div>{mrkdwn(f['text'])}</div>" for f in block["fields"])
            parts.append(f'<div class="fields">{cells}</div>')
        elif kind == "section":
            parts.append(f'<div class="sec">{mrkdwn(block["text"]["text"])}</div>')
        elif kind == "actions":
            parts.append("".join(f'<span class="btn">{html.escape(e["text"]["text"])}</span> '
                                 for e in block["elements"]))
        elif kind == "context":
            parts.append('<div class="ctx">' + " ".join(mrkdwn(e["text"]) for e in block["elements"]) + "</div>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><style>{CSS}</style></head><body>"
            f"<div class='msg'><div class='avatar'>LH</div><div class='body'><span class='who'>{html.escape(sender)}"
            f"</span><span class='app'>APP</span><span class='time'>{html.escape(at)}</span>{''.join(parts)}"
            f"</div></div></body></html>")
