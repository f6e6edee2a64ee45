"""Error reports: markdown, JSON and a self-contained HTML page from the store's history.

Top groups by count (within the window) and by recency, per workflow and step; each with a
sample stack, the variables at the failing frame, origin, evidence, similar groups and
suggestions.  All text is escaped in the HTML page, which loads nothing from elsewhere.
"""

from __future__ import annotations

import html
import json
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from otel_workflow.diagnosis import history
from otel_workflow.diagnosis.api import _window_ns, diagnose_group, store_path
from otel_workflow.diagnosis.model import Diagnosis

FORMATS = ("markdown", "json", "html")


def _iso(ns: int | None) -> str:
    if not ns:
        return "-"
    return datetime.fromtimestamp(ns / 1e9, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def report_data(*, since: str = "24h", workflow: str | None = None,
                store: str | Path | None = None, limit: int = 10) -> dict[str, Any]:  # fmt: skip
    """The report as plain data (what every format renders)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise ValueError(f"limit must be a positive int, got {limit!r}")
    if workflow is not None and not isinstance(workflow, str):
        raise TypeError("workflow must be a string")
    window_ns = _window_ns(since)
    path = store_path(store)
    if path is None:
        raise LookupError("error_report: no store configured (pass store=...)")
    now = time.time_ns()
    conn, has_history = history.open_history_reader(path)
    try:
        groups = (history.groups(conn, since_ns=now - window_ns, workflow=workflow)
                  if has_history else [])  # fmt: skip
        counts = {
            g.fingerprint: history.window_count(conn, g.fingerprint, now - window_ns, workflow)
            for g in groups
        }
    finally:
        conn.close()
    by_count = sorted(groups, key=lambda g: (-counts[g.fingerprint], -g.last_seen_ns))[:limit]
    by_recency = groups[:limit]
    chosen = {g.fingerprint: g for g in [*by_count, *by_recency]}
    diagnoses = {fp: diagnose_group(g, path, window_ns) for fp, g in chosen.items()}
    per_step: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"groups": 0, "count": 0})
    for g in groups:
        cell = per_step[(g.workflow or "", g.step or "")]
        cell["groups"] += 1
        cell["count"] += counts[g.fingerprint]
    return {
        "generated": _iso(now), "since": str(since), "workflow": workflow, "store": path,
        "total_groups": len(groups), "total_occurrences": sum(counts.values()),
        "by_count": [fp.fingerprint for fp in by_count],
        "by_recency": [fp.fingerprint for fp in by_recency],
        "per_step": [{"workflow": w, "step": s, **v} for (w, s), v in sorted(
            per_step.items(), key=lambda kv: -kv[1]["count"])],
        "groups": {fp: {**d.to_dict(), "window_count": counts[fp],
                        "first_seen": _iso(chosen[fp].first_seen_ns),
                        "last_seen": _iso(chosen[fp].last_seen_ns),
                        "workflow": chosen[fp].workflow, "step": chosen[fp].step}
                   for fp, d in diagnoses.items()},
        "recorded": has_history,
    }  # fmt: skip


def error_report(since: str = "24h", format: str = "markdown", *,
                 workflow: str | None = None, store: str | Path | None = None,
                 limit: int = 10) -> str:  # fmt: skip
    """The error report over the last ``since`` as ``markdown``, ``json`` or ``html``.

    >>> print(ow.error_report(since="24h", format="markdown"))  # doctest: +SKIP
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    data = report_data(since=since, workflow=workflow, store=store, limit=limit)
    if format == "json":
        return json.dumps(data, indent=2, default=str, sort_keys=True)
    if format == "html":
        return render_html(data)
    return render_markdown(data)


# --- markdown --------------------------------------------------------------------------
def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _locals_of(g: dict[str, Any]) -> dict[str, Any]:
    stack = g.get("stack") or []
    for frame in reversed(stack):
        if frame.get("in_app") and frame.get("locals"):
            return dict(frame["locals"])
    return {}


def _group_md(fp: str, g: dict[str, Any]) -> list[str]:
    lines = [f"### `{fp}` {_md(g['template'])}", "",
             f"- category **{g['category']}**, retryable: {'yes' if g['retryable'] else 'no'}",
             f"- {g['window_count']} in the window; first seen {g['first_seen']}, "
             f"last seen {g['last_seen']}",
             f"- workflow `{g.get('workflow') or '-'}`, step `{g.get('step') or '-'}`"]  # fmt: skip
    freq = g.get("frequency")
    if freq:
        lines.append(f"- trend {freq['trend']}{', **escalating**' if freq['escalating'] else ''}"
                     f" (latest interval {freq['buckets'][-1]}, "
                     f"forecast {freq['forecast']})")  # fmt: skip
    if g.get("resolution"):
        lines.append(f"- resolved: {_md(g['resolution'])}")
    root = g["root_cause"].get("where")
    if root:
        lines.append(f"- failing frame: `{_md(root)}`")
    variables = _locals_of(g)
    if variables:
        lines += ["", "Variables at the failing frame:", "", "| name | value |", "| --- | --- |"]
        lines += [f"| `{_md(k)}` | `{_md(json.dumps(v, default=str))[:200]}` |"
                  for k, v in variables.items()]  # fmt: skip
    if g.get("stack"):
        lines += ["", "```"]
        lines += [f'  File "{f["filename"]}", line {f["lineno"]}, in {f["function"]}\n'
                  f'    {f["source_line"]}' for f in g["stack"]]  # fmt: skip
        lines += [f"{g['error_type']}: {g['message'][:500]}", "```"]
    origin = g.get("origin")
    if origin and origin.get("step"):
        lines.append(f"- origin: {' > '.join(origin['path'])} ({origin.get('error_type')})")
        for r in origin.get("recovered") or []:
            lines.append(f"  - recovered by retry: {r['step']} attempt {r['attempt']}")
    evidence = g.get("evidence")
    if evidence:
        for item in evidence["items"]:
            lines.append(f"- evidence: {_md(item['text'])}")
        if evidence.get("note"):
            lines.append(f"- evidence: {_md(evidence['note'])}")
    for s in g.get("similar") or []:
        res = f" — resolved: {_md(s['resolution'])}" if s.get("resolution") else ""
        lines.append(f"- similar: `{s['fingerprint']}` {_md(s['template'])} "
                     f"(score {s['score']}, {s['count']} times){res}")  # fmt: skip
    for s in g.get("suggestions") or []:
        lines.append(f"- suggestion: {_md(s['text'])} _(evidence: {_md(s['evidence'])})_")
    return [*lines, ""]


def render_markdown(data: dict[str, Any]) -> str:
    out = [f"# Error report — since {data['since']}", "",
           f"Generated {data['generated']} from `{data['store']}`"
           + (f", workflow `{data['workflow']}`" if data["workflow"] else "") + ".", "",
           f"{data['total_groups']} error groups, {data['total_occurrences']} occurrences.",
           ""]  # fmt: skip
    if not data["recorded"]:
        out += ["No failures have been recorded in this store (is the diagnosis recorder "
                "installed?).", ""]  # fmt: skip
    if data["per_step"]:
        out += ["## Per workflow and step", "", "| workflow | step | groups | occurrences |",
                "| --- | --- | ---: | ---: |"]  # fmt: skip
        out += [f"| {_md(r['workflow'] or '-')} | {_md(r['step'] or '-')} | {r['groups']} | "
                f"{r['count']} |" for r in data["per_step"]]  # fmt: skip
        out.append("")
    for title, key in (("Top groups by count", "by_count"), ("Most recent", "by_recency")):
        out += [f"## {title}", ""]
        if not data[key]:
            out += ["No errors in the window.", ""]
        for fp in data[key]:
            g = data["groups"][fp]
            if key == "by_recency" and fp in data["by_count"]:
                out += [f"- `{fp}` {_md(g['template'])} (last seen {g['last_seen']}, above)"]
                continue
            out += _group_md(fp, g)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# --- HTML --------------------------------------------------------------------------------
_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f4f4f4}
.group{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;margin:1em 0;background:#fcfcfc}
.cat{display:inline-block;padding:1px 8px;border-radius:10px;background:#eee;font-size:.85em}
.cat.programming{background:#fde2e2}.cat.timeout{background:#fff1c2}
.cat.external_service{background:#dbeafe}.cat.constraint{background:#ede9fe}
.cat.validation{background:#dcfce7}.esc{color:#b91c1c;font-weight:bold}
pre{background:#1e1e1e;color:#eee;padding:.6em;border-radius:4px;overflow-x:auto;font-size:12px}
.bars{display:flex;align-items:flex-end;height:32px;gap:1px}
.bars span{background:#6b7280;width:6px;display:inline-block}
code{background:#f1f1f1;padding:0 3px;border-radius:3px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _bars(buckets: list[int]) -> str:
    top = max(buckets) or 1
    return '<div class="bars" title="occurrences per interval">' + "".join(
        f'<span style="height:{max(2, int(30 * b / top))}px" title="{b}"></span>' for b in buckets
    ) + "</div>"


def _group_html(fp: str, g: dict[str, Any]) -> str:
    parts = [f'<div class="group" id="g-{_e(fp)}"><h3><code>{_e(fp)}</code> '
             f'{_e(g["template"])}</h3>',
             f'<p><span class="cat {_e(g["category"])}">{_e(g["category"])}</span> '
             f'retryable: {"yes" if g["retryable"] else "no"} · {g["window_count"]} in the window'
             f' · first seen {_e(g["first_seen"])} · last seen {_e(g["last_seen"])} · workflow '
             f'<code>{_e(g.get("workflow") or "-")}</code> step <code>{_e(g.get("step") or "-")}'
             "</code></p>"]  # fmt: skip
    freq = g.get("frequency")
    if freq:
        esc = ' <span class="esc">escalating</span>' if freq["escalating"] else ""
        parts.append(f"<p>trend {_e(freq['trend'])}{esc}</p>{_bars(freq['buckets'])}")
    if g.get("resolution"):
        parts.append(f"<p><b>Resolved:</b> {_e(g['resolution'])}</p>")
    if g["root_cause"].get("where"):
        parts.append(f"<p>Failing frame: <code>{_e(g['root_cause']['where'])}</code></p>")
    variables = _locals_of(g)
    if variables:
        rows = "".join(f"<tr><td><code>{_e(k)}</code></td><td><code>"
                       f"{_e(json.dumps(v, default=str)[:300])}</code></td></tr>"
                       for k, v in variables.items())  # fmt: skip
        parts.append("<h4>Variables at the failing frame</h4><table class=\"locals\">"
                     f"<tr><th>name</th><th>value</th></tr>{rows}</table>")  # fmt: skip
    if g.get("stack"):
        text = "\n".join(f'  File "{f["filename"]}", line {f["lineno"]}, in {f["function"]}\n'
                         f'    {f["source_line"]}' for f in g["stack"])  # fmt: skip
        parts.append(f"<pre>{_e(text)}\n{_e(g['error_type'])}: {_e(g['message'][:500])}</pre>")
    items = []
    origin = g.get("origin")
    if origin and origin.get("step"):
        items.append(f"origin: {_e(' > '.join(origin['path']))}")
        items += [f"recovered by retry: {_e(r['step'])} attempt {_e(r['attempt'])}"
                  for r in origin.get("recovered") or []]  # fmt: skip
    evidence = g.get("evidence")
    if evidence:
        items += [f"evidence: {_e(i['text'])}" for i in evidence["items"]]
        if evidence.get("note"):
            items.append(f"evidence: {_e(evidence['note'])}")
    for s in g.get("similar") or []:
        res = f" — resolved: {_e(s['resolution'])}" if s.get("resolution") else ""
        link = _e(s["fingerprint"])
        items.append(f'similar: <a href="#g-{link}"><code>{link}</code></a> '
                     f"{_e(s['template'])} (score {s['score']}, {s['count']} times){res}")
    items += [f"<b>suggestion:</b> {_e(s['text'])} "
              f"<i>(evidence: {_e(s['evidence'])})</i>"
              for s in g.get("suggestions") or []]  # fmt: skip
    if items:
        parts.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
    return "".join(parts) + "</div>"


def render_html(data: dict[str, Any]) -> str:
    body = [f"<h1>Error report — since {_e(data['since'])}</h1>",
            f"<p>Generated {_e(data['generated'])} from <code>{_e(data['store'])}</code>. "
            f"{data['total_groups']} error groups, "
            f"{data['total_occurrences']} occurrences.</p>"]  # fmt: skip
    if not data["recorded"]:
        body.append("<p>No failures have been recorded in this store.</p>")
    if data["per_step"]:
        rows = "".join(f"<tr><td>{_e(r['workflow'] or '-')}</td><td>{_e(r['step'] or '-')}</td>"
                       f"<td>{r['groups']}</td><td>{r['count']}</td></tr>"
                       for r in data["per_step"])  # fmt: skip
        body.append("<h2>Per workflow and step</h2><table><tr><th>workflow</th><th>step</th>"
                    f"<th>groups</th><th>occurrences</th></tr>{rows}</table>")  # fmt: skip
    shown: set[str] = set()
    for title, key in (("Top groups by count", "by_count"), ("Most recent", "by_recency")):
        body.append(f"<h2>{title}</h2>")
        if not data[key]:
            body.append("<p>No errors in the window.</p>")
        for fp in data[key]:
            g = data["groups"][fp]
            if fp in shown:
                body.append(f'<p><a href="#g-{_e(fp)}"><code>{_e(fp)}</code></a> '
                            f"{_e(g['template'])} (last seen {_e(g['last_seen'])})"
                            "</p>")  # fmt: skip
                continue
            shown.add(fp)
            body.append(_group_html(fp, g))
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>otel-workflow error report</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")  # fmt: skip


def diagnosis_markdown(d: Diagnosis) -> str:
    """One diagnosis as markdown (``errors show``)."""
    g = {**d.to_dict(), "window_count": d.frequency.count if d.frequency else 0,
         "first_seen": _iso(d.frequency.first_seen_ns if d.frequency else None),
         "last_seen": _iso(d.frequency.last_seen_ns if d.frequency else None),
         "workflow": d.context.get("workflow"), "step": d.context.get("step")}  # fmt: skip
    lines = _group_md(d.fingerprint, g)
    lines += [f"- classified by: {d.classification_detail or '-'}"]
    lines += [f"- note: {n}" for n in d.notes]
    return "\n".join(lines).rstrip() + "\n"
