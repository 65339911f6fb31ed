#!/usr/bin/env python3
"""Compare Vigil's EVE http, dns and tls records with what tshark decodes
from the same capture, field by field.

Suricata is not installed here, so Suricata's EVE cannot be produced for the
same traffic. Instead the fields are taken from tshark (an independent
decoder of the same bytes) and converted to the format Suricata's EVE
documentation gives for each field (hostname without port, status as a
number, rrtype names, rcode names, "TLS 1.2", colon-separated serials and
SHA-1 fingerprints, subject and issuer as "C=US, O=..., CN=..." in the
certificate's order, as openssl's RFC 2253 printer gives them reversed).

usage: eve_vs_tshark.py --engine bin/vigil PCAP... [--out DIR] [--show N]

For each capture and protocol it prints, per field, how many records agree,
and lists disagreements (at most N per field). Exit status 1 when a field
disagrees.
"""
import argparse
import collections
import ipaddress
import json
import os
import subprocess
import sys
import tempfile

RRTYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA",
           33: "SRV", 35: "NAPTR", 41: "OPT", 43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY",
           64: "SVCB", 65: "HTTPS", 255: "ANY", 257: "CAA"}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
# Suricata names TLS 1.0 "TLSv1" (and the later ones "TLS 1.x").
TLSVER = {0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}


def tshark(pcap, flt, fields, occurrence="a", opts=()):
    cmd = ["tshark", "-r", pcap, "-n", "-Y", flt, "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=" + occurrence, "-E", "aggregator=|",
           "-o", "tcp.desegment_tcp_streams:TRUE"] + list(opts)
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout  # tshark exits 2 on a truncated capture after printing what it read
    rows = []
    for line in out.splitlines():
        parts = line.split("\t")
        parts += [""] * (len(fields) - len(parts))
        rows.append(dict(zip(fields, parts)))
    return rows


def addr(row):
    src = row.get("ip.src") or row.get("ipv6.src")
    dst = row.get("ip.dst") or row.get("ipv6.dst")
    sp = row.get("tcp.srcport") or row.get("udp.srcport")
    dp = row.get("tcp.dstport") or row.get("udp.dstport")
    return ip_norm(src), int(sp or 0), ip_norm(dst), int(dp or 0)


ADDR = ["ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport"]


def run_vigil(engine, pcap, out, sets=()):
    os.makedirs(out, exist_ok=True)
    eve = os.path.join(out, "eve.json")
    if os.path.exists(eve):
        os.remove(eve)
    subprocess.run([engine, "-S", "/dev/null", "-r", pcap, "-l", out, "-k", "none", "--quiet",
                    "--set", "app-layer.protocols.tls.ja3-fingerprints=yes"] + [x for kv in sets for x in ("--set", kv)],
                   check=False, stdout=subprocess.DEVNULL)  # a truncated capture still yields its records
    recs = collections.defaultdict(list)
    with open(eve) as f:
        for line in f:
            r = json.loads(line)
            recs[r["event_type"]].append(r)
    return recs


def eve_tuple(r):
    return ip_norm(r["src_ip"]), r.get("src_port", 0), ip_norm(r["dest_ip"]), r.get("dest_port", 0)


def ip_norm(v):
    """Suricata writes IPv6 addresses uncompressed (2001:0db8:0000:...),
    tshark compressed; compare them as addresses."""
    try:
        return str(ipaddress.ip_address(v))
    except ValueError:
        return v


def host_norm(h):
    h = h.strip().lower()
    if h.startswith("["):
        return h[1:h.index("]")] if "]" in h else h
    if h.count(":") == 1:
        h = h.split(":")[0]
    return h


class Report:
    def __init__(self, show):
        self.show = show
        self.rows = []  # (pcap, proto, field, agree, total, samples)
        self.bad = False

    def compare(self, pcap, proto, field, pairs):
        """pairs: list of (key, eve value, tshark value)."""
        agree = sum(1 for _, a, b in pairs if a == b)
        samples = [(k, a, b) for k, a, b in pairs if a != b][: self.show]
        if agree != len(pairs):
            self.bad = True
        self.rows.append((pcap, proto, field, agree, len(pairs), samples))

    def unmatched(self, pcap, proto, what, keys):
        if keys:
            self.bad = True
        self.rows.append((pcap, proto, what, 0 if keys else 1, 1 if not keys else len(keys), [(k, "", "") for k in list(keys)[: self.show]]))

    def print(self):
        for pcap, proto, field, agree, total, samples in self.rows:
            mark = "ok " if agree == total else "DIFF"
            print(f"{mark} {os.path.basename(pcap):32s} {proto:5s} {field:22s} {agree}/{total}")
            for k, a, b in samples:
                print(f"       {k}: vigil={a!r} tshark={b!r}")


def match(eve_items, ts_items):
    """Pair records by key in order of appearance; returns pairs and the
    keys left over on either side."""
    by = collections.defaultdict(list)
    for k, v in ts_items:
        by[k].append(v)
    pairs, only_eve = [], []
    for k, v in eve_items:
        if by.get(k):
            pairs.append((k, v, by[k].pop(0)))
        else:
            only_eve.append(k)
    only_ts = [k for k, vs in by.items() for _ in vs]
    return pairs, only_eve, only_ts


def check_http(pcap, recs, rep):
    req = tshark(pcap, "http.request && tcp", ADDR + ["tcp.stream", "http.request.method", "http.request.uri",
                                                "http.host", "http.user_agent", "http.request.version", "http.referer"], "f")
    # Interim 1xx responses are not transactions of their own (libhtp
    # logs the final status).
    resp = tshark(pcap, "http.response && tcp && !(http.response.code >= 100 && http.response.code < 200)", ADDR + ["tcp.stream", "http.response.code", "http.content_type",
                                                  "http.location", "http.response.version"], "f",
                  # A response is shown when its headers arrive, not only
                  # once its whole body was captured.
                  ["-o", "http.desegment_body:FALSE"])
    # tshark pairs responses with requests per TCP stream in order.
    resp_by = collections.defaultdict(list)
    for r in resp:
        resp_by[r["tcp.stream"]].append(r)
    ts = []
    for r in req:
        rs = resp_by[r["tcp.stream"]].pop(0) if resp_by[r["tcp.stream"]] else {}
        key = addr(r)
        ts.append((key, {
            "http_method": r["http.request.method"], "url": r["http.request.uri"],
            "hostname": host_norm(r["http.host"]) or None, "http_user_agent": r["http.user_agent"] or None,
            "protocol": r["http.request.version"], "http_refer": r["http.referer"] or None,
            "status": int(rs["http.response.code"]) if rs.get("http.response.code") else None,
            "http_content_type": (rs.get("http.content_type") or "").split(";")[0].strip() or None,
            "redirect": rs.get("http.location") or None}))
    ev = []
    for r in recs.get("http", []):
        h = r["http"]
        ev.append((eve_tuple(r), {
            "http_method": h.get("http_method"), "url": h.get("url"),
            "hostname": host_norm(h["hostname"]) if h.get("hostname") else None,
            "http_user_agent": h.get("http_user_agent"), "protocol": h.get("protocol"),
            "http_refer": h.get("http_refer"), "status": h.get("status"),
            "http_content_type": (h.get("http_content_type") or "").split(";")[0].strip() or None,
            "redirect": h.get("redirect")}))
    # Key by tuple + method + url so that pipelined requests pair right.
    ev = [((k, v["http_method"], v["url"]), v) for k, v in ev]
    ts = [((k, v["http_method"], v["url"]), v) for k, v in ts]
    pairs, only_eve, only_ts = match(ev, ts)
    for f in ["http_method", "url", "hostname", "http_user_agent", "protocol", "http_refer", "status", "http_content_type", "redirect"]:
        rep.compare(pcap, "http", f, [(k, a[f], b[f]) for k, a, b in pairs])
    rep.unmatched(pcap, "http", "only in vigil", only_eve)
    rep.unmatched(pcap, "http", "only in tshark", only_ts)


def check_dns(pcap, recs, rep):
    # LLMNR and mDNS are DNS messages on other ports; Vigil detects DNS by
    # content on any port.
    rows = tshark(pcap, "(dns || llmnr || mdns) && !icmp", ADDR + ["dns.id", "dns.flags.response", "dns.flags.rcode", "dns.qry.name",
                                                "dns.qry.type", "dns.a", "dns.aaaa", "dns.cname"])
    ts = []
    for r in rows:
        qr = r["dns.flags.response"] in ("1", "True")
        names = [n for n in r["dns.qry.name"].split("|") if n != ""] if r["dns.qry.name"] else []
        types = [RRTYPES.get(int(t), str(t)) for t in r["dns.qry.type"].split("|") if t]
        rdata = sorted(x for f in ("dns.a", "dns.aaaa", "dns.cname") for x in r[f].split("|") if x)
        ts.append(((addr(r), int(r["dns.id"].split("|")[0], 0), qr), {
            "rrname": names[0] if names else None, "rrtype": types[0] if types else None,
            "rcode": RCODES.get(int(r["dns.flags.rcode"] or 0), r["dns.flags.rcode"]) if qr else None,
            "answers": rdata if qr else None}))
    ev = []
    for r in recs.get("dns", []):
        d = r["dns"]
        qr = d.get("type") == "response"
        qs = d.get("queries") or []
        if not qs and d.get("rrname") is not None:  # version 2 layout
            qs = [{"rrname": d.get("rrname"), "rrtype": d.get("rrtype")}]
        rdata = sorted(ip_norm(a.get("rdata")) for a in (d.get("answers") or []) if a.get("rrtype") in ("A", "AAAA", "CNAME") and a.get("rdata"))
        # A response record is written in the flow's orientation in some
        # Suricata versions; key on the packet's direction as written.
        tup = eve_tuple(r)
        if qr:
            tup = (tup[2], tup[3], tup[0], tup[1])
        ev.append(((tup, d.get("id"), qr), {
            "rrname": qs[0]["rrname"] if qs else None, "rrtype": qs[0]["rrtype"] if qs else None,
            "rcode": d.get("rcode") if qr else None, "answers": rdata if qr else None}))
    pairs, only_eve, only_ts = match(ev, ts)
    for f in ["rrname", "rrtype", "rcode", "answers"]:
        rep.compare(pcap, "dns", f, [(k, a[f], b[f]) for k, a, b in pairs])
    rep.unmatched(pcap, "dns", "only in vigil", only_eve)
    rep.unmatched(pcap, "dns", "only in tshark", only_ts)


def cert_fields(hexder):
    der = bytes.fromhex(hexder.replace(":", ""))
    with tempfile.NamedTemporaryFile(suffix=".der") as f:
        f.write(der)
        f.flush()
        out = subprocess.run(["openssl", "x509", "-inform", "DER", "-in", f.name, "-noout", "-subject", "-issuer", "-serial",
                              "-fingerprint", "-sha1", "-nameopt", "RFC2253,-esc_msb,utf8"],
                             capture_output=True, text=True).stdout
    res = {}
    for line in out.splitlines():
        k, _, v = line.partition("=")
        res[k.strip().lower()] = v.strip()
    def dn(s):
        # RFC 2253 lists the RDNs last first; Suricata writes them in the
        # certificate's order, separated by ", ".
        parts, cur, esc = [], "", False
        for ch in s:
            if esc:
                cur += ch
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == ",":
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        parts.append(cur)
        return ", ".join(reversed(parts)) if s else None
    serial = res.get("serial", "")
    if len(serial) % 2:
        serial = "0" + serial
    fp = res.get("sha1 fingerprint", "").lower()
    return {"subject": dn(res.get("subject", "")), "issuerdn": dn(res.get("issuer", "")),
            "serial": ":".join(serial[i:i + 2] for i in range(0, len(serial), 2)).upper() or None,
            "fingerprint": fp or None}


def check_tls(pcap, recs, rep):
    ch = tshark(pcap, "tls.handshake.type == 1", ADDR + ["tcp.stream", "tls.handshake.extensions_server_name", "tls.handshake.ja3"], "f")
    sh = tshark(pcap, "tls.handshake.type == 2", ADDR + ["tcp.stream", "tls.handshake.version", "tls.handshake.extensions.supported_version", "tls.handshake.ja3s"], "f")
    ce = tshark(pcap, "tls.handshake.type == 11", ["tcp.stream", "tls.handshake.certificate"], "f")
    by_sh = {r["tcp.stream"]: r for r in reversed(sh)}
    by_ce = {r["tcp.stream"]: r for r in reversed(ce)}
    ts, seen = [], set()
    for r in ch:
        if r["tcp.stream"] in seen:
            continue
        seen.add(r["tcp.stream"])
        s = by_sh.get(r["tcp.stream"], {})
        ver = None
        if s:
            v = s.get("tls.handshake.extensions.supported_version") or s.get("tls.handshake.version")
            ver = TLSVER.get(int(v, 0), v) if v else None
        c = by_ce.get(r["tcp.stream"])
        cf = cert_fields(c["tls.handshake.certificate"]) if c and c["tls.handshake.certificate"] else {}
        ts.append((addr(r), {"sni": r["tls.handshake.extensions_server_name"] or None, "version": ver,
                             "ja3": r["tls.handshake.ja3"] or None, "ja3s": s.get("tls.handshake.ja3s") or None,
                             "subject": cf.get("subject"), "issuerdn": cf.get("issuerdn"),
                             "serial": cf.get("serial"), "fingerprint": cf.get("fingerprint")}))
    ev = []
    for r in recs.get("tls", []):
        t = r["tls"]
        ev.append((eve_tuple(r), {"sni": t.get("sni"), "version": t.get("version"),
                                  "ja3": (t.get("ja3") or {}).get("hash"), "ja3s": (t.get("ja3s") or {}).get("hash"),
                                  "subject": t.get("subject"), "issuerdn": t.get("issuerdn"),
                                  "serial": t.get("serial"), "fingerprint": t.get("fingerprint")}))
    pairs, only_eve, only_ts = match(ev, ts)
    for f in ["sni", "version", "ja3", "ja3s", "subject", "issuerdn", "serial", "fingerprint"]:
        rep.compare(pcap, "tls", f, [(k, a[f], b[f]) for k, a, b in pairs])
    rep.unmatched(pcap, "tls", "only in vigil", only_eve)
    rep.unmatched(pcap, "tls", "only in tshark", only_ts)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", required=True)
    ap.add_argument("--out", default=None)
    ap.add_argument("--show", type=int, default=3)
    ap.add_argument("--set", action="append", default=[], help="KEY=VALUE passed to vigil --set")
    ap.add_argument("pcaps", nargs="+")
    a = ap.parse_args()
    out = a.out or tempfile.mkdtemp(prefix="eve-vs-tshark-")
    rep = Report(a.show)
    for pcap in a.pcaps:
        recs = run_vigil(os.path.abspath(a.engine), pcap, os.path.join(out, os.path.basename(pcap)), a.set)
        check_http(pcap, recs, rep)
        check_dns(pcap, recs, rep)
        check_tls(pcap, recs, rep)
    rep.print()
    sys.exit(1 if rep.bad else 0)


if __name__ == "__main__":
    main()
