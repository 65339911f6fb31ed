package rules

import "strings"

// knownKeywords lists every rule option name Suricata 6, 7 and 8 register
// (primary names and their legacy aliases), as listed by
// "suricata --list-keywords" and the Suricata user guide. Knowing a keyword
// here means only that it is part of the rule language; whether Vigil
// implements it is the engine's decision.
var knownKeywords = makeSet(
	// meta
	"msg", "sid", "rev", "gid", "classtype", "priority", "reference", "metadata",
	"target", "requires",

	// header / IP / TCP / UDP / ICMP
	"ttl", "ipopts", "sameip", "ip_proto", "id", "geoip", "fragbits", "fragoffset",
	"tos", "ip.src", "ip.dst", "l3_proto",
	"tcp.flags", "flags", "tcp.seq", "seq", "tcp.ack", "ack", "tcp.window", "window",
	"tcp.mss", "tcp.wscale", "tcp.hdr", "udp.hdr", "ipv4.hdr", "ipv6.hdr",
	"itype", "icode", "icmp_id", "icmp_seq", "icmpv4.hdr", "icmpv6.hdr", "icmpv6.mtu",
	"ipv4-csum", "tcpv4-csum", "tcpv6-csum", "udpv4-csum", "udpv6-csum",
	"icmpv4-csum", "icmpv6-csum",
	"vlan.id", "vlan.layers",
	"decode-event", "engine-event", "stream-event", "app-layer-event",
	"app-layer-state", "app-layer-protocol",

	// payload
	"content", "uricontent", "nocase", "depth", "offset", "distance", "within",
	"startswith", "endswith", "rawbytes", "fast_pattern", "replace", "pcre",
	"isdataat", "bsize", "dsize", "byte_test", "byte_jump", "byte_extract",
	"byte_math", "rpc", "ftpbounce", "asn1", "base64_decode", "base64_data",
	"absent", "entropy", "pkt_data", "prefilter", "lua", "luajit",
	"dataset", "datarep", "urilen",

	// transforms
	"compress_whitespace", "strip_whitespace", "strip_pseudo_headers",
	"to_md5", "to_sha1", "to_sha256", "to_lowercase", "to_uppercase",
	"header_lowercase", "dotprefix", "url_decode", "xor", "pcrexform",
	"luaxform", "from_base64", "domain", "tld",

	// flow and state
	"flow", "flowbits", "flowvar", "flowint", "pktvar", "hostbits", "xbits",
	"stream_size", "flow.age", "flow.pkts", "flow.pkts_toserver",
	"flow.pkts_toclient", "flow.bytes", "flow.bytes_toserver",
	"flow.bytes_toclient", "bypass", "config", "iprep",

	// thresholding, output control
	"threshold", "detection_filter", "tag", "noalert", "alert", "nfq_set_mark",

	// HTTP content modifiers (legacy)
	"http_uri", "http_raw_uri", "http_header", "http_raw_header", "http_cookie",
	"http_method", "http_client_body", "http_server_body", "http_stat_code",
	"http_stat_msg", "http_user_agent", "http_host", "http_raw_host",

	// HTTP sticky buffers and their underscore aliases
	"http.uri", "http.uri.raw", "http.header", "http.header.raw", "http.cookie",
	"http.method", "http.request_body", "http.response_body", "http.stat_code",
	"http.stat_msg", "http.user_agent", "http.host", "http.host.raw",
	"http.header_names", "http_header_names", "http.accept", "http_accept",
	"http.accept_lang", "http_accept_lang", "http.accept_enc", "http_accept_enc",
	"http.connection", "http_connection", "http.content_len", "http_content_len",
	"http.content_type", "http_content_type", "http.referer", "http_referer",
	"http.location", "http.server", "http.protocol", "http_protocol",
	"http.start", "http_start", "http.request_line", "http_request_line",
	"http.response_line", "http_response_line", "http.request_header",
	"http.response_header",

	// HTTP/2
	"http2.frametype", "http2.errorcode", "http2.priority", "http2.window",
	"http2.size_update", "http2.settings", "http2.header_name", "http2.header",

	// files
	"file.data", "file_data", "file.name", "filename", "fileext", "filestore",
	"file.magic", "filemagic", "filemd5", "filesha1", "filesha256", "filesize",

	// DNS, mDNS
	"dns.query", "dns_query", "dns.opcode", "dns.rcode", "dns.rrtype",
	"dns.answer.name", "dns.query.name", "dns.queries.rrname",
	"dns.answers.rrname", "dns.additionals.rrname", "dns.authorities.rrname",
	"dns.response.rrname",
	"mdns.queries.rrname", "mdns.answers.rrname", "mdns.additionals.rrname",
	"mdns.authorities.rrname", "mdns.response.rrname",

	// TLS, JA3/JA4
	"tls.version", "tls.subject", "tls.issuerdn", "tls.fingerprint", "tls.store",
	"tls_store", "tls.sni", "tls_sni", "tls.certs", "tls.cert_issuer",
	"tls_cert_issuer", "tls.cert_subject", "tls_cert_subject", "tls.cert_serial",
	"tls_cert_serial", "tls.cert_fingerprint", "tls_cert_fingerprint",
	"tls.subjectaltname", "tls_cert_notbefore", "tls_cert_notafter",
	"tls_cert_expired", "tls_cert_valid", "tls.cert_chain_len", "tls.alpn",
	"tls.random", "tls.random_time", "tls.random_bytes",
	"ssl_version", "ssl_state",
	"ja3.hash", "ja3_hash", "ja3.string", "ja3_string", "ja3s.hash",
	"ja3s.string", "ja4.hash",

	// SSH
	"ssh.proto", "ssh_proto", "ssh.software", "ssh_software",
	"ssh.protoversion", "ssh.softwareversion", "ssh.hassh", "ssh.hassh.server",
	"ssh.hassh.string", "ssh.hassh.server.string",

	// SMB, DCERPC, NFS, Kerberos
	"smb.named_pipe", "smb_named_pipe", "smb.share", "smb_share",
	"smb.ntlmssp_user", "smb.ntlmssp_domain", "smb.version",
	"dcerpc.iface", "dce_iface", "dcerpc.opnum", "dce_opnum",
	"dcerpc.stub_data", "dce_stub_data",
	"nfs_procedure", "nfs.version",
	"krb5_err_code", "krb5_msg_type", "krb5.cname", "krb5_cname", "krb5.sname",
	"krb5_sname", "krb5.ticket_encryption",

	// FTP
	"ftpdata_command", "ftp.dynamic_port", "ftp.command", "ftp.command_data",
	"ftp.reply", "ftp.mode", "ftp.reply_received", "ftp.completion_code",

	// SCADA
	"modbus", "dnp3.data", "dnp3_data", "dnp3_func", "dnp3_ind", "dnp3_obj",
	"cip_service", "enip_command", "enip.capabilities", "enip.cip_attribute",
	"enip.cip_class", "enip.vendor_id", "enip.status", "enip.state",
	"enip.serial", "enip.revision", "enip.protocol_version", "enip.product_code",
	"enip.identity_status", "enip.device_type", "enip.cip_status",
	"enip.cip_instance", "enip.cip_extendedstatus", "enip.product_name",
	"enip.service_name",

	// SIP, SDP
	"sip.method", "sip.uri", "sip.protocol", "sip.stat_code", "sip.stat_msg",
	"sip.request_line", "sip.response_line", "sip.from", "sip.to", "sip.via",
	"sip.user_agent", "sip.content_type", "sip.content_length",
	"sdp.session_name", "sdp.session_info", "sdp.origin", "sdp.uri", "sdp.email",
	"sdp.phone_number", "sdp.connection_data", "sdp.bandwidth", "sdp.time",
	"sdp.repeat_time", "sdp.timezone", "sdp.encryption_key", "sdp.attribute",
	"sdp.media.media", "sdp.media.media_info", "sdp.media.connection_data",
	"sdp.media.encryption_key",

	// SNMP, IKE, QUIC, RFB, MQTT
	"snmp.version", "snmp.pdu_type", "snmp.usm", "snmp.community",
	"ike.exchtype", "ike.init_spi", "ike.resp_spi", "ike.vendor",
	"ike.chosen_sa_attribute", "ike.key_exchange_payload_length",
	"ike.nonce_payload_length", "ike.nonce_payload", "ike.key_exchange_payload",
	"quic.version", "quic.sni", "quic.ua", "quic.cyu.hash", "quic.cyu.string",
	"rfb.name", "rfb.sectype", "rfb.secresult",
	"mqtt.type", "mqtt.flags", "mqtt.qos", "mqtt.reason_code",
	"mqtt.connack.session_present", "mqtt.protocol_version",
	"mqtt.connect.flags", "mqtt.connect.willtopic", "mqtt.connect.willmessage",
	"mqtt.connect.username", "mqtt.connect.protocol_string",
	"mqtt.connect.password", "mqtt.connect.clientid", "mqtt.publish.topic",
	"mqtt.publish.message", "mqtt.subscribe.topic", "mqtt.unsubscribe.topic",

	// mail, DHCP, websocket, LDAP, PostgreSQL
	"email.from", "email.subject", "email.to", "email.cc", "email.date",
	"email.message_id", "email.x_mailer", "email.url", "email.received",
	"smtp.helo", "smtp.mail_from", "smtp.rcpt_to",
	"dhcp.leasetime", "dhcp.rebinding_time", "dhcp.renewal_time",
	"websocket.opcode", "websocket.mask", "websocket.flags", "websocket.payload",
	"ldap.request.operation", "ldap.responses.operation", "ldap.responses.count",
	"ldap.request.dn", "ldap.responses.dn", "ldap.responses.result_code",
	"ldap.responses.message", "ldap.request.attribute_type",
	"ldap.responses.attribute_type",
	"pgsql.query",

	// app-layer frames
	"frame",
)

func makeSet(names ...string) map[string]struct{} {
	m := make(map[string]struct{}, len(names))
	for _, n := range names {
		m[n] = struct{}{}
	}
	return m
}

// KnownKeyword reports whether name is a rule option keyword of the
// Suricata rule language (case-insensitive, as Suricata matches them).
func KnownKeyword(name string) bool {
	if _, ok := knownKeywords[name]; ok {
		return true
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= 'A' && c <= 'Z' {
			_, ok := knownKeywords[strings.ToLower(name)]
			return ok
		}
	}
	return false
}

// Keywords returns the names KnownKeyword accepts, in no particular order.
func Keywords() []string {
	out := make([]string, 0, len(knownKeywords))
	for k := range knownKeywords {
		out = append(out, k)
	}
	return out
}
