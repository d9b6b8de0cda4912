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
}


def _f(value: Any, digits: int = 0, suffix: str = "") -> str:
    if value is None or value != value:  # None or NaN
        return "n/a"
    return f"{value:,.{digits}f}{suffix}"


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**not met**")


def _inproc_table(data: dict[str, Any], configs: list[str]) -> list[str]:
    lines = [
        "| configuration | WSGI µs/req | WSGI overhead µs | ASGI µs/req | ASGI overhead µs |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for config in configs:
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
    targets: list[tuple[str, str, bool | None]] = []

    inproc = results.get("inproc")
    if inproc:
        out += [
            "",
            f"**1. In-process, µs per request** (small JSON view, `startproject` middleware; median of "
            f"{inproc['rounds']} interleaved rounds of {inproc['requests_per_batch']['wsgi']} WSGI / "
            f"{inproc['requests_per_batch']['asgi']} ASGI requests; overhead = paired difference to bare "
            "in the same round, median (interquartile range))",
            "",
            *_inproc_table(inproc, ["bare", "chapter", "lantern", "lanternotel", "peers"]),
            "",
        ]
        ratio_lines = ["| ratio of overheads | WSGI | ASGI | target |", "| --- | ---: | ---: | --- |"]
        for key, label, limit in (
            ("lantern_over_chapter", "lantern / chapter", 0.5),
            ("lantern_over_peers", "lantern / peer stack", 0.05),
            ("lanternotel_over_peers", "lantern + OTel / peer stack", None),
        ):
            w, a = inproc["ratios"]["wsgi"][key], inproc["ratios"]["asgi"][key]
            ratio_lines.append(f"| {label} | {_f(w, 3)} | {_f(a, 3)} | {'≤ ' + str(limit) if limit else '—'} |")
            if limit:
                for mode, value in (("WSGI", w), ("ASGI", a)):
                    targets.append(
                        (f"{label} ≤ {limit} ({mode})", _f(value, 3), None if value is None else value <= limit)
                    )
        out += ratio_lines

    http_data = results.get("http")
    if http_data:
        out += ["", "**2. HTTP, wrk against gunicorn (sync workers) on 127.0.0.1**"]
        if "skipped" in http_data:
            out.append(f"\nskipped: {http_data['skipped']}")
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
                fraction = entry["lantern_rps_fraction"]
                targets.append(
                    (
                        f"≥ 95% of bare rps over HTTP ({workers} worker{'s' if workers != '1' else ''})",
                        _f(fraction * 100 if fraction else None, 1, "%"),
                        None if fraction is None else fraction >= 0.95,
                    )
                )

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
                    targets.append(("1,000-series scrape < 10 ms single-process", _f(value, 2, " ms"), value < 10))

    readyz = results.get("readyz")
    if readyz:
        out += ["", "**3b. `/readyz` with local PostgreSQL and Redis**"]
        if "skipped" in readyz or "error" in readyz:
            out.append(f"\nskipped: {readyz.get('skipped') or readyz.get('error')}")
            targets.append(("/readyz < 5 ms median", "n/a", None))
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
                targets.append(("/readyz < 5 ms median (WSGI and ASGI)", _f(worst, 2, " ms"), worst < 5))

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

    cprofile = (profile or {}).get("cprofile", {})
    for number, config, base, title in (
        (7, "lantern", "bare", "lantern's extra own time over bare"),
        (8, "lanternotel", "lantern", "what OpenTelemetry spans add to lantern"),
    ):
        if "areas_own_us" not in cprofile.get(config, {}) or "areas_own_us" not in cprofile.get(base, {}):
            continue
        mine, theirs = cprofile[config]["areas_own_us"], cprofile[base]["areas_own_us"]
        extra = sorted(((mine.get(k, 0.0) - theirs.get(k, 0.0), k) for k in set(mine) | set(theirs)), reverse=True)
        out += [
            "",
            f"**{number}. cProfile, WSGI: {title}, by area** (profiled µs per request; profiling inflates "
            f"both: {base} {cprofile[base]['unprofiled_us']} → {cprofile[base]['profiled_us']} µs, "
            f"{config} {cprofile[config]['unprofiled_us']} → {cprofile[config]['profiled_us']} µs)",
            "",
            "| area | extra profiled µs |",
            "| --- | ---: |",
        ]
        out += [f"| {area} | {_f(value, 1)} |" for value, area in extra[:12] if value > 0.5]

    if targets:
        out += ["", "**Targets** (issue 6; reported, never asserted)", "", "| target | measured | |"]
        out.append("| --- | ---: | --- |")
        out += [f"| {name} | {value} | {_met(ok)} |" for name, value, ok in targets]
    return "\n".join(out)
