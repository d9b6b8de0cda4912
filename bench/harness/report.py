"""The Markdown table printed by ``make bench`` and kept in ``docs/performance.md``."""

from __future__ import annotations

from typing import Any

LABELS = {
    "bare": "bare Django",
    "chapter": "chapter's own code",
    "lantern": "django-lantern",
    "lanternotel": "django-lantern + OTel spans",
    "peers": "peer stack",
    "lanternnolog": "lantern, access log off",
    "lanternnometrics": "lantern, metrics off",
    "lanterncore": "lantern, log + metrics off",
    "lanterntext": "lantern, text formatter",
    "lanternboth": 'lantern, METRICS_NAMING "both"',
    "lanternbothns": 'lantern, METRICS_NAMING "both" + namespace',
    "lanterndebug": "lantern, DEBUG_ON_ERROR on",
    "lanternfile": "django-lantern, plain FileHandler",
    "litebare": "bare Django, no sessions/auth",
    "litechapter": "chapter's own code, no sessions/auth",
    "litelantern": "django-lantern, no sessions/auth",
    "litefile": "django-lantern, plain FileHandler, no sessions/auth",
    "floor": "the floor (benchproj/floor.py)",
}
# The task list's rows (issue 21) carry the same labels as the small view's.
PAGE_OF = {
    "pagebare": "bare",
    "pagechapter": "chapter",
    "page": "lantern",
    "pageotel": "lanternotel",
    "pagepeers": "peers",
    "pagefloor": "floor",
}
TINY_ROWS = list(PAGE_OF.values())
MAIN_ROWS = ["bare", "chapter", "lantern", "lanternfile", "lanternotel", "peers"]
LITE_ROWS = ["litebare", "litechapter", "litelantern", "litefile"]
# Ratio rows of table 1: (key in inproc ratios, label, WSGI limit, ASGI limit) -- issue 10's targets.
RATIO_ROWS = (
    ("lantern_over_chapter", "lantern / chapter (startproject middleware)", 0.5, 1.0),
    ("lanternfile_over_chapter", "lantern with a plain FileHandler / chapter (startproject middleware)", 0.5, 1.0),
    ("litelantern_over_litechapter", "lantern / chapter (no sessions/auth)", 0.5, 1.0),
    ("litefile_over_litechapter", "lantern with a plain FileHandler / chapter (no sessions/auth)", 0.5, 1.0),
    ("lanternotel_over_peers", "lantern + OTel spans / peer stack", 0.15, 0.15),
    ("lantern_over_peers", "lantern / peer stack", None, None),
)
ACCESS_RECORD_LIMIT_US = 12.0
# Issue 21's targets: instructions added per request, lantern against the chapter and the floor.
INSTRUCTION_TARGETS = (
    ("small view: lantern ≤ 0.5 times the chapter's code", "lantern", "chapter", 0.5),
    ("small view: lantern ≤ 2 times the floor", "lantern", "floor", 2.0),
    ("task list: lantern ≤ 2 times the floor", "page", "pagefloor", 2.0),
)
PAGE_RPS_FRACTION_21 = 0.97

Target = tuple[str, str, str, bool | None]


def _f(value: Any, digits: int = 0, suffix: str = "") -> str:
    if value is None or value != value:  # None or NaN
        return "n/a"
    return f"{value:,.{digits}f}{suffix}"


def _skip_reason(stage: dict[str, Any]) -> str | None:
    """Why a stage has no figures (it was skipped, or it failed), or None."""
    return stage.get("skipped") or stage.get("error")


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**not met**")


def _target(
    name: str,
    value: float | None,
    limit: float,
    digits: int,
    unit: str = "",
    at_least: bool = False,
    gap_unit: str = "",
) -> Target:
    """A target row: the figure, the margin to the limit (``under``/``over`` it) and whether it is met.

    A ratio that is ``n/a`` had a denominator overhead of zero or less (noise swamped it)."""
    if value is None or value != value:
        return (name, "n/a", "n/a", None)
    ok = value >= limit if at_least else value <= limit
    gap = abs(value - limit)
    side = ("above" if value >= limit else "below") if at_least else ("under" if value <= limit else "over")
    return (name, _f(value, digits, unit), f"{_f(gap, digits, gap_unit or unit)} {side}", ok)


def _inproc_table(data: dict[str, Any], configs: list[str]) -> list[str]:
    lines = [
        "| configuration | WSGI µs/req | WSGI overhead µs | ASGI µs/req | ASGI overhead µs |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for config in configs:
        if config not in data["configs"] and config not in data.get("unavailable", {}):
            continue
        entry = data["configs"].get(config)
        if entry is None:
            reason = data.get("unavailable", {}).get(config, "not run")
            lines.append(f"| {LABELS.get(config, config)} | n/a | n/a | n/a | n/a ({reason}) |")
            continue
        cells = []
        for mode in ("wsgi", "asgi"):
            us = entry[mode]["us"]
            over = entry[mode].get("overhead_us")
            cells.append(_f(us["median"], 1))
            cells.append(
                "—" if over is None else f"{_f(over['median'], 1)} ({_f(over['p25'], 0)} to {_f(over['p75'], 0)})"
            )
        lines.append(f"| {LABELS.get(config, config)} | " + " | ".join(cells) + " |")
    return lines


def _inplace_table(data: dict[str, Any]) -> list[str]:
    lantern, bare = data.get("lantern", {}), data.get("bare", {})
    rows = lantern.get("components", {})
    out = [
        f"(`GET {data['path']}`, wrk {data['connections']} connections for {data['seconds']} s after a warm-up: "
        f"{lantern.get('requests', 0):,} requests with lantern at {_f(lantern.get('rps'))} rps, "
        f"{bare.get('requests', 0):,} bare at {_f(bare.get('rps'))} rps; µs per request; own = less the "
        "wrapped pieces it called; each wrapped call adds "
        f"{_f(lantern.get('wrapper_us', {}).get('wall'), 2)} µs wall, "
        f"{_f(lantern.get('wrapper_us', {}).get('cpu'), 2)} µs CPU to its caller's own figures)",
        "",
        "| piece | calls/req | wall µs | CPU µs | own wall µs | own CPU µs |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in bare.get("components", {}).items():
        out.append(
            f"| bare Django: {name} | {_f(row['calls_per_request'], 2)} | {_f(row['wall_us'], 1)} | "
            f"{_f(row['cpu_us'], 1)} | {_f(row['own_wall_us'], 1)} | {_f(row['own_cpu_us'], 1)} |"
        )
    for name, row in rows.items():
        label = name.replace("  ", "&nbsp;&nbsp;")
        out.append(
            f"| {label} | {_f(row['calls_per_request'], 2)} | {_f(row['wall_us'], 1)} | {_f(row['cpu_us'], 1)} | "
            f"{_f(row['own_wall_us'], 1)} | {_f(row['own_cpu_us'], 1)} |"
        )
    if lantern.get("absent"):
        out.append("\nNot in this tree (not timed): " + "; ".join(n.strip() for n in lantern["absent"]) + ".")
    return out


def instruction_targets(data: dict[str, Any]) -> list[Target]:
    """Issue 21's instruction ratios (overhead over overhead), reported, never asserted."""
    configs = data.get("configs", {})
    rows: list[Target] = []
    for name, mine, theirs, limit in INSTRUCTION_TARGETS:
        a, b = (configs.get(c, {}).get("overhead") for c in (mine, theirs))
        value = None if a is None or b is None or b <= 0 else a / b
        rows.append(_target(f"instructions added per request, {name}", value, limit, 2, " times"))
    return rows


def instructions_section(data: dict[str, Any], number: str = "10") -> list[str]:
    """Instructions per request (callgrind), the small view and the task list side by side, and the targets."""
    configs = data.get("configs", {})
    requests = data.get("requests", {})
    src = data.get("src")
    machine = data.get("machine", {})
    where = (
        f"`--src {src}` (commit {machine.get('src_commit', '?')})"
        if src
        else (f"commit {machine.get('git_commit', '?')}" if machine else "this tree")
    )
    tiny, page = requests.get("tiny", "?"), requests.get("page", "?")
    out = [
        "",
        f"**{number}. Instructions per warm request, counted by callgrind** ({where}; {tiny} requests of the "
        f"small JSON view, {page} of the task list logged in, after set-up and warm-up; added = over bare Django "
        "on the same page; deterministic, unaffected by machine load)",
        "",
        "| configuration | small view, per request | small view, added | task list, per request | task list, added |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    page_of = {tiny_name: page_name for page_name, tiny_name in PAGE_OF.items()}
    for name in TINY_ROWS:
        cells = []
        for config in (name, page_of[name]):
            entry = configs.get(config)
            if entry is None:
                why = data.get("failed", {}).get(config)
                cells += ["n/a" if why else "—", "n/a" if why else "—"]
                continue
            added = entry.get("overhead")
            cells += [f"{entry['per_request']:,}", "—" if config in ("bare", "pagebare") else _f(added)]
        out.append(f"| {LABELS.get(name, name)} | " + " | ".join(cells) + " |")
    busy = {c: e["other_threads"] for c, e in configs.items() if e.get("other_threads")}
    if busy:
        listed = ", ".join(f"{c} {v:,}" for c, v in busy.items())
        out += [
            "",
            "Counted in the thread that served the requests only. The process's other threads ran on their "
            f"own clock during the window, not per request, and are left out: {listed} instructions in all "
            "(the operations page's flush thread, on the pages that include it).",
        ]
    for config, why in data.get("failed", {}).items():
        out.append(f"\n{config} failed: {why}")
    targets = instruction_targets(data)
    out += ["", "| issue 21 target | measured | margin | |", "| --- | ---: | ---: | --- |"]
    out += [f"| {name} | {value} | {margin} | {_met(ok)} |" for name, value, margin, ok in targets]
    return out


def render(results: dict[str, Any]) -> str:
    out: list[str] = []
    m = results["machine"]
    pk = m["packages"]
    out.append(
        f"Run {m['date_utc']} on {m['nproc']} CPUs ({m['cpu_model']}), Linux {m['kernel']}, "
        f"Python {m['python']}, Django {pk['django']}, django-lantern {pk['django-lantern']} "
        f"(commit {m['git_commit']}{', src/ with uncommitted changes' if m['src_uncommitted_changes'] else ''}); "
        f"load average {m['loadavg_start'][0]} at start, {m.get('loadavg_end', ['?'])[0]} at end; "
        f"{'quick run; ' if results.get('quick') else ''}took {_f(m.get('duration_s'), 0)} s."
    )
    out += [
        "",
        "| machine | |",
        "| --- | --- |",
        f"| CPUs (nproc) | {m['nproc']} |",
        f"| CPU model | {m['cpu_model']} |",
        f"| kernel | Linux {m['kernel']} |",
        f"| Python | {m['implementation']} {m['python']} |",
        "| packages | " + ", ".join(f"{name} {version}" for name, version in pk.items()) + " |",
    ]
    targets: list[Target] = []
    kept_targets: list[Target] = []  # issue 6's scrape and readyz rows, listed after issue 10's

    inproc = results.get("inproc")
    if inproc:
        out += [
            "",
            f"**1. In-process, µs per request** (small JSON view; median of "
            f"{inproc['rounds']} interleaved rounds of {inproc['requests_per_batch']['wsgi']} WSGI / "
            f"{inproc['requests_per_batch']['asgi']} ASGI requests; overhead = paired difference to the "
            "baseline in the same round, median (interquartile range); the first rows on `startproject`'s "
            "middleware against bare Django, the `no sessions/auth` rows against bare Django without sessions, "
            "auth or messages)",
            "",
            *_inproc_table(inproc, MAIN_ROWS + LITE_ROWS),
            "",
            "| ratio of overheads | WSGI | ASGI | target WSGI | target ASGI |",
            "| --- | ---: | ---: | --- | --- |",
        ]
        for key, label, wsgi_limit, asgi_limit in RATIO_ROWS:
            w, a = inproc["ratios"]["wsgi"].get(key), inproc["ratios"]["asgi"].get(key)
            limits = [f"≤ {limit}" if limit else "—" for limit in (wsgi_limit, asgi_limit)]
            out.append(f"| {label} | {_f(w, 3)} | {_f(a, 3)} | {limits[0]} | {limits[1]} |")
            for mode, value, limit in (("WSGI", w, wsgi_limit), ("ASGI", a, asgi_limit)):
                if limit:
                    targets.append(_target(f"{mode}: {label} ≤ {limit}", value, limit, 3))

    http_data = results.get("http")
    if http_data:
        out += ["", "**2. HTTP, wrk against gunicorn (sync workers) on 127.0.0.1**"]
        if _skip_reason(http_data):
            out.append(f"\nskipped: {_skip_reason(http_data)}")
        else:
            out += [
                f"({http_data['rounds']} interleaved rounds of {http_data['seconds']} s, "
                f"{http_data['connections']} connections, 1 wrk thread; median)",
                "",
                "| workers | bare rps | lantern rps | lantern / bare | bare p99 ms | lantern p99 ms | errors |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            ]
            for workers, entry in http_data["workers"].items():
                bare, lantern = entry["bare"], entry["lantern"]
                errors = bare["socket_errors"] + bare["non_2xx"] + lantern["socket_errors"] + lantern["non_2xx"]
                note = " (multiproc metrics)" if entry.get("multiproc") else ""
                out.append(
                    f"| {workers}{note} | {_f(bare['rps']['median'])} | {_f(lantern['rps']['median'])} | "
                    f"{_f(entry['lantern_rps_fraction'], 3)} | {_f(bare['p99_ms']['median'], 2)} | "
                    f"{_f(lantern['p99_ms']['median'], 2)} | {errors} |"
                )

    page = results.get("page")
    if page:
        out += ["", "**2b. A realistic page over HTTP: the example project's task list** (gunicorn, sync workers)"]
        if _skip_reason(page):
            out.append(f"\nskipped: {_skip_reason(page)}")
            targets.append((f"task list over HTTP ≥ {PAGE_RPS_FRACTION_21:g} times bare rps", "n/a", "n/a", None))
        else:
            out += [
                f"(`GET {page['path']}` as a logged-in member: session, user, one org's tasks, a template; "
                f"{page.get('runs', 1)} run(s) on fresh servers, each of {page['rounds']} interleaved rounds of "
                f"{page['seconds']} s, {page['connections']} connections, 1 wrk thread; a run's lantern / bare is "
                "the median of its paired rounds, the figure the median over runs; CPU = the server processes' "
                "user + system time from /proc over the requests served)",
                "",
                "| workers | bare rps | lantern rps | lantern / bare (runs) | bare CPU ms/req | lantern CPU ms/req "
                "| bare p99 ms | lantern p99 ms | errors |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            ]
            for workers, entry in page["workers"].items():
                plural = "s" if workers != "1" else ""
                name = f"task list over HTTP ≥ {PAGE_RPS_FRACTION_21:g} times bare rps ({workers} worker{plural})"
                if "error" in entry:
                    out.append(f"| {workers} | error: {entry['error']} | | | | | | | |")
                    targets.append((name, "n/a", "n/a", None))
                    continue
                bare, lantern = entry["bare"], entry["lantern"]
                runs = ", ".join(_f(f, 3) for f in entry.get("run_fractions", []))
                note = " (multiproc metrics)" if entry.get("multiproc") else ""
                out.append(
                    f"| {workers}{note} | {_f(bare['rps'])} | {_f(lantern['rps'])} | "
                    f"{_f(entry['lantern_rps_fraction'], 3)} ({runs}) | "
                    f"{_f(bare.get('cpu_ms_per_request_overall'), 3)} | "
                    f"{_f(lantern.get('cpu_ms_per_request_overall'), 3)} | {_f(bare.get('p99_ms'), 2)} | "
                    f"{_f(lantern.get('p99_ms'), 2)} | {bare['errors'] + lantern['errors']} |"
                )
                fraction = entry["lantern_rps_fraction"]
                ok = _target(name, fraction, PAGE_RPS_FRACTION_21, 3, at_least=True)
                cpu = (bare.get("cpu_ms_per_request_overall"), lantern.get("cpu_ms_per_request_overall"))
                if None not in cpu:
                    extra = f" (server CPU {_f(cpu[0], 3)} → {_f(cpu[1], 3)} ms per request)"
                    ok = (ok[0], ok[1] + extra, ok[2], ok[3])
                targets.append(ok)
            first = next((e["check"] for e in page["workers"].values() if "check" in e), None)
            if first and "bare_status" in first:
                out.append(
                    f"\nChecked before timing: both answer {first['bare_status']}/{first['lantern_status']} with the "
                    f"task list ({first['bare_body_bytes']:,} / {first['lantern_body_bytes']:,} bytes); lantern "
                    f"writes {first['lantern_access_lines_per_request']:g} access line per request."
                )

    inplace = results.get("inplace")
    if inplace:
        out += ["", "**2c. In place: lantern's pieces inside the task list under gunicorn** (1 sync worker)"]
        if _skip_reason(inplace):
            out.append(f"\nskipped: {_skip_reason(inplace)}")
        else:
            out += _inplace_table(inplace)

    instructions = results.get("instructions")
    if instructions:
        if _skip_reason(instructions):
            out += ["", f"**10. Instructions per request (callgrind)**: skipped: {_skip_reason(instructions)}"]
        else:
            out += instructions_section(instructions)
            targets += instruction_targets(instructions)
            if "per_query" in instructions:
                from harness import query_cost

                out += query_cost.accounting_rows(instructions["per_query"])

    scrape = results.get("scrape")
    if scrape:
        out += [
            "",
            "**3a. One `/metrics` scrape through the WSGI handler** (median of repeated scrapes)",
            "",
            "| mode | series | body KiB | scrape ms (median) | scrape ms (best) | prometheus_client encoder ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for mode in ("single", "multi"):
            data = scrape.get(mode, {})
            if "error" in data:
                out.append(f"| {mode} | error: {data['error']} | | | | |")
                continue
            label = "single process" if mode == "single" else f"multi-process ({data.get('processes')} processes)"
            for target, entry in data.get("targets", {}).items():
                encoder = entry["prometheus_client_generate_latest_ms"]["median"]
                out.append(
                    f"| {label} | {entry['series']} | {_f(entry['bytes'] / 1024, 1)} | {_f(entry['ms']['median'], 2)} "
                    f"| {_f(entry['ms']['min'], 2)} | {_f(encoder, 2)} |"
                )
                if mode == "single" and target == "1000":
                    value = entry["ms"]["median"]
                    kept_targets.append(_target("1,000-series scrape < 10 ms single-process", value, 10, 2, " ms"))

    readyz = results.get("readyz")
    if readyz:
        out += ["", "**3b. `/readyz` with local PostgreSQL and Redis**"]
        if _skip_reason(readyz):
            out.append(f"\nskipped: {_skip_reason(readyz)}")
            kept_targets.append(("/readyz < 5 ms median", "n/a", "n/a", None))
        else:
            out += [
                f"({readyz['requests']} sequential requests after warm-up)",
                "",
                "| endpoint | WSGI median ms | WSGI p95 ms | ASGI median ms | ASGI p95 ms |",
                "| --- | ---: | ---: | ---: | ---: |",
            ]
            for label, key in (
                ("lantern `/readyz` (db + cache, threads, timeouts)", "lantern"),
                ("chapter `/readyz/` (inline SELECT 1 + cache set/get)", "chapter"),
            ):
                entry = readyz.get(key, {})
                if "wsgi_ms" not in entry:
                    out.append(f"| {label} | {entry.get('error', 'n/a')} | | | |")
                    continue
                out.append(
                    f"| {label} | {_f(entry['wsgi_ms']['median'], 2)} | {_f(entry['wsgi_ms']['p95'], 2)} | "
                    f"{_f(entry['asgi_ms']['median'], 2)} | {_f(entry['asgi_ms']['p95'], 2)} |"
                )
            lantern = readyz.get("lantern", {})
            if "wsgi_ms" in lantern:
                worst = max(lantern["wsgi_ms"]["median"], lantern["asgi_ms"]["median"])
                kept_targets.append(_target("/readyz < 5 ms median (WSGI and ASGI)", worst, 5, 2, " ms"))

    memory = results.get("memory")
    if memory:
        out += [
            "",
            "**4. Memory after unique requests** (half `/items/<n>/`, half unmatched 404s, a distinct "
            "`X-Request-Id` each; RSS after `gc.collect()`)",
            "",
            "| configuration | requests | RSS after warm-up MiB | RSS at end MiB | growth KiB | growth in 2nd half KiB "
            "| metric label sets |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for config, entry in memory.items():
            if "error" in entry:
                out.append(f"| {LABELS.get(config, config)} | error: {entry['error']} | | | | | |")
                continue
            label_sets = entry["metric_label_sets"]
            out.append(
                f"| {LABELS.get(config, config)} | {entry['requests']:,} "
                f"| {_f(entry['rss_after_warmup_kib'] / 1024, 1)} | {_f(entry['rss_end_kib'] / 1024, 1)} "
                f"| {entry['growth_kib']:,} | {entry['growth_second_half_kib']:,} "
                f"| {label_sets if label_sets is not None else '—'} |"
            )

    profile = results.get("profile")
    if profile:
        ablation = profile.get("ablation", {})
        if ablation.get("configs"):
            out += [
                "",
                "**5. Where lantern's overhead goes: ablations** (same method as table 1, "
                f"{ablation['rounds']} rounds)",
                "",
                *_inproc_table(ablation, list(ablation["configs"])),
            ]
        components = profile.get("components", {}).get("pieces_us")
        if components:
            out += [
                "",
                "**6. Pieces of the lantern path, timed alone** (µs per call, best of 9 runs of 5,000 calls)",
                "",
                "| piece | µs |",
                "| --- | ---: |",
            ]
            out += [f"| {name.strip()} | {_f(value, 2)} |" for name, value in components.items()]
        record_us = profile.get("components", {}).get("access_record_us")
        if record_us is not None:
            plain = profile["components"].get("no_framework_line_us")
            name, measured, margin, ok = _target(
                f"the access record in place (record, filter, format, write) ≤ {ACCESS_RECORD_LIMIT_US:g} µs",
                record_us,
                ACCESS_RECORD_LIMIT_US,
                2,
                " µs",
            )
            if plain:
                measured += (
                    f" ({record_us / plain:.1f} times the same line with no logging framework, {_f(plain, 2)} µs)"
                )
            targets.append((name, measured, margin, ok))

    for number, key, config, base, title in (
        (7, "cprofile", "lantern", "bare", "WSGI: lantern's extra own time over bare"),
        (8, "cprofile", "lanternotel", "lantern", "WSGI: what OpenTelemetry spans add to lantern"),
        (9, "cprofile_asgi", "lantern", "bare", "ASGI (all threads): lantern's extra own time over bare"),
    ):
        cprofile = (profile or {}).get(key, {})
        if "areas_own_us" not in cprofile.get(config, {}) or "areas_own_us" not in cprofile.get(base, {}):
            continue
        mine, theirs = cprofile[config]["areas_own_us"], cprofile[base]["areas_own_us"]
        extra = sorted(((mine.get(k, 0.0) - theirs.get(k, 0.0), k) for k in set(mine) | set(theirs)), reverse=True)
        out += [
            "",
            f"**{number}. cProfile, {title}, by area** (profiled µs per request; profiling inflates "
            f"both: {base} {cprofile[base]['unprofiled_us']} → {cprofile[base]['profiled_us']} µs, "
            f"{config} {cprofile[config]['unprofiled_us']} → {cprofile[config]['profiled_us']} µs)",
            "",
            "| area | extra profiled µs |",
            "| --- | ---: |",
        ]
        out += [f"| {area} | {_f(value, 1)} |" for value, area in extra[:12] if value > 0.5]
        if key == "cprofile_asgi":
            totals = [(value, area) for area, value in mine.items()]
            out += [
                "",
                f"**{number}b. cProfile, ASGI (all threads): where lantern's request time goes, by area** "
                "(own profiled µs per request, largest first; `waiting` is wall time a thread spent blocked "
                "while another ran)",
                "",
                "| area | profiled µs |",
                "| --- | ---: |",
                *(f"| {area} | {_f(value, 1)} |" for value, area in sorted(totals, reverse=True)[:12]),
            ]

    targets += kept_targets
    if targets:
        out += [
            "",
            "**Targets** (issues 10 and 21, then issue 6's scrape and readyz; reported, never asserted)",
            "",
            "| target | measured | margin | |",
        ]
        out.append("| --- | ---: | ---: | --- |")
        out += [f"| {name} | {value} | {margin} | {_met(ok)} |" for name, value, margin, ok in targets]
    return "\n".join(out)
