#!/usr/bin/env python3
"""Cross-check signatures/sdks/*.toml against the raw tracker lists.

For every domain of every SDK entry, report which files under
../shared/data/sdk-sources (relative to the repository root) mention it,
by source abbreviation (see signatures/README.md): "exact" when the domain
itself appears as a host name, "sub" when only host names below it appear
(the file lists alog.umeng.com, the entry lists umeng.com). Every
host_pattern is tried against the host names found in the same files.
Domains no file mentions rest on vendor documentation or SDK code alone
and are counted as such.

Exits 1 on structural errors: duplicate ids, a domain (or pattern) listed by
two SDKs or twice by one, a category that differs from the file stem, an
empty `sources` list, a missing required field, a malformed domain or regex,
or a bare shared platform domain (qq.com, baidu.com, ...). The source
cross-check itself is informational (warnings) and is skipped with a
message when the source directory is absent.

Standard library only (tomllib needs Python 3.11+).

Usage:
    scripts/check_sdk_sources.py            # per-domain report + summary
    scripts/check_sdk_sources.py --summary  # summary only
    scripts/check_sdk_sources.py --query example.com other.cn
                                            # look names up in the sources
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import re
import sys
import tomllib

REPO = pathlib.Path(__file__).resolve().parent.parent
SDK_DIR = REPO / "signatures" / "sdks"
SOURCES_DIR = REPO.parent / "shared" / "data" / "sdk-sources"

CATEGORIES = (
    "analytics",
    "push",
    "ads",
    "maps_location",
    "crash_reporting",
    "payment",
    "social_login",
    "risk_control",
    "customer_service",
    "face_recognition",
    "cloud_services",
)
REQUIRED = ("id", "name", "name_en", "vendor", "category", "sources")
KNOWN_KEYS = set(REQUIRED) | {"domains", "host_patterns", "notes"}
ID_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
DOMAIN_RE = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
# Platform domains shared by first-party apps and many products: listing one
# bare would attribute unrelated traffic to an SDK. Use specific subdomains.
SHARED_SUFFIXES = frozenset(
    """
    qq.com weixin.qq.com tencent.com gtimg.cn gtimg.com qcloud.com myqcloud.com
    tencentcloudapi.com baidu.com bdstatic.com baidubce.com
    alibaba.com alicdn.com aliyun.com aliyuncs.com taobao.com tmall.com
    alipay.com.cn huawei.com hicloud.com dbankcloud.com dbankcloud.cn
    myhuaweicloud.com honor.com hihonorcloud.com xiaomi.com xiaomi.net mi.com
    miui.com oppomobile.com heytapmobi.com heytapmobile.com coloros.com
    vivo.com.cn vivoglobal.com meizu.com google.com googleapis.com gstatic.com
    bytedance.com snssdk.com isnssdk.com pstatp.com douyin.com toutiao.com
    volces.com kuaishou.com gifshow.com weibo.com weibo.cn sina.com.cn
    163.com 126.net 163yun.com jd.com 360.cn apple.com facebook.com
    amazonaws.com cloudfront.net akamaihd.net
    """.split()
)
# Abbreviation used in `sources` for each local file (by path prefix). The
# hagezi files get the vendor appended: hagezi-xiaomi, hagezi-oppo-realme...
# Other abbreviations (vendor-docs, sdk-code, community-list) cannot be
# checked locally.
FILE_ABBREV = (
    ("exodus/", "exodus"),
    ("adguard/companiesdb-", "adguard-companiesdb"),
    ("adguard/SpywareFilter", "adguard-spyware"),
    ("trackercontrol/xray-", "xray"),
    ("trackercontrol/disconnect-", "disconnect"),
    ("trackercontrol/duckduckgo-", "ddg-tds"),
    ("duckduckgo/", "ddg-tds"),
    ("hagezi/", "hagezi"),
    ("easylist/", "easylist-china"),
    ("libchecker/", "libchecker"),
    ("platformcontrol/", "platformcontrol"),
    ("tweasel-baltpeter/perflyst", "perflyst"),
    ("tweasel-baltpeter/", "tweasel"),
)
# Sources whose entries attest SDK identity (class names), not domains.
IDENTITY_ONLY = ("libchecker", "platformcontrol")
HOSTCH = "a-z0-9-"
HOST_TOKEN_RE = re.compile(r"[a-z0-9*][a-z0-9*-]*(?:\.[a-z0-9*-]+)+")


def abbrev(rel: str) -> str:
    for prefix, name in FILE_ABBREV:
        if rel.startswith(prefix):
            if name == "hagezi":
                # hagezi/native.xiaomi.surge.conf -> hagezi-xiaomi
                parts = rel.split("/", 1)[1].split(".")
                return "hagezi-" + ".".join(parts[1:-2])
            return name
    return rel


def load_sources() -> dict[str, str] | None:
    """{relative path: lower-case searchable text}, or None if absent."""
    if not SOURCES_DIR.is_dir():
        return None
    texts = {}
    for path in sorted(SOURCES_DIR.rglob("*")):
        if not path.is_file() or path.name in ("LICENSE", "MANIFEST.tsv", "SOURCES.md"):
            continue
        if path.suffix == ".db":
            # SQLite: component names only; the bytes are searched as text.
            raw = path.read_bytes().decode("latin-1")
        else:
            raw = path.read_text(encoding="utf-8", errors="replace")
        if "reversed" in path.name:
            raw = raw[::-1]  # TrackerControl stores the Disconnect list reversed
        # Exodus network signatures are regexes: undo the escaping of dots
        # and dashes so `alog\.umeng\.com` reads as a host name.
        text = raw.lower().replace("\\\\.", ".").replace("\\.", ".").replace("\\-", "-")
        texts[str(path.relative_to(SOURCES_DIR))] = text
    return texts


def mention(text: str, domain: str) -> str | None:
    """'exact', 'sub' or None: how `text` mentions host suffix `domain`."""
    best = None
    start = 0
    dlen = len(domain)
    while True:
        i = text.find(domain, start)
        if i < 0:
            return best
        start = i + 1
        after = text[i + dlen : i + dlen + 2]
        if after[:1] and re.match(r"[" + HOSTCH + r"]", after[:1]):
            continue
        if after[:1] == "." and len(after) == 2 and re.match(r"[a-z0-9]", after[1]):
            continue  # e.g. umeng.com.gds.alibabadns.com is another name
        before = text[i - 1] if i > 0 else " "
        if re.match(r"[" + HOSTCH + r"]", before):
            continue  # e.g. xumeng.com
        if before == "." and i >= 2 and text[i - 2] == "/":
            continue  # e.g. ydss.cn/test.www.jdpay.com: a path, not a host
        if before in ".*":
            best = best or "sub"
        else:
            return "exact"


def lookup(texts: dict[str, str], domain: str) -> dict[str, str]:
    """{source abbreviation: 'exact' or 'sub'} for every source mentioning it."""
    found: dict[str, str] = {}
    for rel, text in texts.items():
        m = mention(text, domain)
        if m:
            key = abbrev(rel)
            if found.get(key) != "exact":
                found[key] = m
    return found


_host_tokens: dict[str, set[str]] = {}


def pattern_hits(texts: dict[str, str], pattern: str) -> dict[str, list[str]]:
    """{source abbreviation: example hosts} for hosts in the sources matching."""
    rx = re.compile(pattern)
    out: dict[str, list[str]] = {}
    for rel, text in texts.items():
        if rel not in _host_tokens:
            _host_tokens[rel] = set(HOST_TOKEN_RE.findall(text))
        hits = sorted(h for h in _host_tokens[rel] if "*" not in h and rx.search(h))
        if hits:
            out.setdefault(abbrev(rel), []).extend(hits)
    return out


def load_entries(errors: list[str]):
    entries = []
    files = sorted(SDK_DIR.glob("*.toml"))
    if not files:
        errors.append(f"no files in {SDK_DIR}")
    for path in files:
        stem = path.stem
        try:
            with path.open("rb") as f:
                doc = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            errors.append(f"{path.name}: TOML error: {e}")
            continue
        extra = set(doc) - {"sdk"}
        if extra:
            errors.append(f"{path.name}: unknown top-level keys {sorted(extra)}")
        if stem not in CATEGORIES:
            errors.append(f"{path.name}: file stem is not a known category")
        for n, sdk in enumerate(doc.get("sdk", []), 1):
            where = f"{path.name} [[sdk]] #{n} ({sdk.get('id', '?')})"
            for key in REQUIRED:
                if key not in sdk:
                    errors.append(f"{where}: missing `{key}`")
            for key in sorted(set(sdk) - KNOWN_KEYS):
                errors.append(f"{where}: unknown key `{key}`")
            if sdk.get("category") != stem:
                errors.append(f"{where}: category `{sdk.get('category')}` != file stem `{stem}`")
            if not ID_RE.match(str(sdk.get("id", ""))):
                errors.append(f"{where}: id is not snake_case")
            srcs = sdk.get("sources")
            if not srcs or not all(isinstance(s, str) and ":" in s for s in srcs):
                errors.append(f"{where}: `sources` must be a non-empty list of 'abbrev:entry' strings")
            doms = sdk.get("domains", [])
            pats = sdk.get("host_patterns", [])
            if not doms and not pats:
                errors.append(f"{where}: no domains and no host_patterns")
            for d in doms:
                if not isinstance(d, str) or not DOMAIN_RE.match(d):
                    errors.append(f"{where}: malformed domain {d!r}")
                elif d in SHARED_SUFFIXES:
                    errors.append(f"{where}: `{d}` is a shared platform domain; use a specific subdomain")
            for p in pats:
                try:
                    re.compile(p)
                except re.error as e:
                    errors.append(f"{where}: bad host_pattern {p!r}: {e}")
            entries.append((path.name, sdk))
    return entries


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--summary", action="store_true", help="print the summary only")
    ap.add_argument("--query", nargs="+", metavar="DOMAIN", help="look domains up and exit")
    args = ap.parse_args()

    texts = load_sources()
    if args.query:
        if texts is None:
            print(f"sources absent: {SOURCES_DIR}")
            return 2
        for d in args.query:
            found = lookup(texts, d.lower())
            print(d, "->", ", ".join(f"{k} ({v})" for k, v in found.items()) or "NOT FOUND")
        return 0

    errors: list[str] = []
    warnings: list[str] = []
    entries = load_entries(errors)

    ids = collections.Counter(sdk.get("id") for _, sdk in entries)
    for i, c in sorted(ids.items(), key=lambda x: str(x[0])):
        if c > 1:
            errors.append(f"duplicate id `{i}` ({c} entries)")
    owner: dict[str, list[str]] = collections.defaultdict(list)
    pat_owner: dict[str, list[str]] = collections.defaultdict(list)
    for _, sdk in entries:
        for d in sdk.get("domains", []):
            owner[d].append(sdk.get("id"))
        for p in sdk.get("host_patterns", []):
            pat_owner[p].append(sdk.get("id"))
    for d, who in sorted(owner.items()):
        if len(who) > 1:
            errors.append(f"domain `{d}` listed more than once: {who}")
    for p, who in sorted(pat_owner.items()):
        if len(who) > 1:
            errors.append(f"host_pattern `{p}` listed more than once: {who}")
    # A domain below another SDK's domain is allowed (the most specific
    # match wins), but worth seeing.
    for d, who in sorted(owner.items()):
        parts = d.split(".")
        for k in range(1, len(parts) - 1):
            parent = ".".join(parts[k:])
            if parent in owner and owner[parent] != who:
                warnings.append(f"`{d}` ({who[0]}) is below `{parent}` ({owner[parent][0]}); the more specific entry wins")

    if texts is None:
        print(f"note: {SOURCES_DIR} is absent; skipping the source cross-check")
    # per category: sdks, domains, domains in a source file, domains not in
    # any (vendor-docs / sdk-code only), patterns, patterns matching a host
    # named in a source file
    per_cat = collections.OrderedDict((c, [0] * 6) for c in CATEGORIES)
    unverified_sdks = []
    for _, sdk in entries:
        sid = sdk.get("id")
        row = per_cat.setdefault(sdk.get("category"), [0] * 6)
        row[0] += 1
        any_found = False
        # Citations that attest something other than a domain (Exodus code
        # signatures, LibChecker component rules) need not match a domain.
        claimed = {
            s.split(":", 1)[0]
            for s in sdk.get("sources", [])
            if isinstance(s, str) and "code signature" not in s
        }
        hit_sources: set[str] = set()
        for d in sdk.get("domains", []):
            row[1] += 1
            if texts is None:
                continue
            found = lookup(texts, d)
            if found:
                row[2] += 1
                any_found = True
                hit_sources.update(found)
            else:
                row[3] += 1
            if not args.summary:
                where = ", ".join(f"{k} ({v})" for k, v in found.items()) or "not in any source file (vendor-docs / sdk-code only)"
                print(f"{sid}: {d}: {where}")
        for p in sdk.get("host_patterns", []):
            row[4] += 1
            if texts is None:
                continue
            hits = pattern_hits(texts, p)
            if hits:
                row[5] += 1
                any_found = True
                hit_sources.update(hits)
            if not args.summary:
                where = "; ".join(f"{k} ({', '.join(v[:3])})" for k, v in hits.items()) or "no host in any source file matches"
                print(f"{sid}: /{p}/: {where}")
        if texts is None:
            continue
        if not any_found:
            unverified_sdks.append(sid)
        local = {a for _, a in FILE_ABBREV if a != "hagezi"}
        for pre in sorted(claimed):
            if pre in IDENTITY_ONLY:
                continue
            if pre.startswith("hagezi"):
                ok = pre in hit_sources or (pre == "hagezi" and any(h.startswith("hagezi") for h in hit_sources))
            elif pre in local:
                ok = pre in hit_sources
            else:
                continue
            if not ok:
                warnings.append(f"{sid}: cites `{pre}` but none of its domains/patterns is found there")

    print()
    hdr = ("category", "sdks", "domains", "in source", "not in source", "patterns", "pat. in source")
    print(f"{hdr[0]:<18}" + "".join(f"{h:>15}" for h in hdr[1:]))
    tot = [0] * 6
    for cat, row in per_cat.items():
        print(f"{cat:<18}" + "".join(f"{v:>15}" for v in row))
        tot = [a + b for a, b in zip(tot, row)]
    print(f"{'total':<18}" + "".join(f"{v:>15}" for v in tot))
    if texts is not None:
        print(f"SDKs with no domain or pattern found in any source file (vendor-docs / sdk-code only): {len(unverified_sdks)}")
        if unverified_sdks:
            print("  " + ", ".join(unverified_sdks))
    for w in warnings:
        print(f"warning: {w}")
    for e in errors:
        print(f"error: {e}")
    print(f"{len(entries)} SDKs, {len(errors)} error(s), {len(warnings)} warning(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
