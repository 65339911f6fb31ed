package rules

import "strings"

// Vars holds the address and port variables rules refer to as $NAME. Keys
// may be written with or without the leading '$'; values use the same syntax
// as a rule's address or port field and may refer to other variables.
type Vars struct {
	Addr map[string]string
	Port map[string]string
}

// DefaultVars returns the variables of Suricata's default suricata.yaml
// (vars.address-groups and vars.port-groups). The caller owns the result and
// may change it before parsing rules.
func DefaultVars() *Vars {
	return &Vars{
		Addr: map[string]string{
			"HOME_NET":       "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]",
			"EXTERNAL_NET":   "!$HOME_NET",
			"HTTP_SERVERS":   "$HOME_NET",
			"SMTP_SERVERS":   "$HOME_NET",
			"SQL_SERVERS":    "$HOME_NET",
			"DNS_SERVERS":    "$HOME_NET",
			"TELNET_SERVERS": "$HOME_NET",
			"AIM_SERVERS":    "$EXTERNAL_NET",
			"DC_SERVERS":     "$HOME_NET",
			"DNP3_SERVER":    "$HOME_NET",
			"DNP3_CLIENT":    "$HOME_NET",
			"MODBUS_CLIENT":  "$HOME_NET",
			"MODBUS_SERVER":  "$HOME_NET",
			"ENIP_CLIENT":    "$HOME_NET",
			"ENIP_SERVER":    "$HOME_NET",
		},
		Port: map[string]string{
			"HTTP_PORTS":      "80",
			"SHELLCODE_PORTS": "!80",
			"ORACLE_PORTS":    "1521",
			"SSH_PORTS":       "22",
			"DNP3_PORTS":      "20000",
			"MODBUS_PORTS":    "502",
			"FILE_DATA_PORTS": "[$HTTP_PORTS,110,143]",
			"FTP_PORTS":       "21",
			"GENEVE_PORTS":    "6081",
			"VXLAN_PORTS":     "4789",
			"TEREDO_PORTS":    "3544",
		},
	}
}

// lookup finds name (with or without '$') in m, trying both spellings of
// the key.
func lookupVar(m map[string]string, name string) (string, bool) {
	name = strings.TrimPrefix(name, "$")
	if v, ok := m[name]; ok {
		return v, true
	}
	v, ok := m["$"+name]
	return v, ok
}

// LookupAddr returns the value of address variable name ("HOME_NET" or
// "$HOME_NET").
func (v *Vars) LookupAddr(name string) (string, bool) {
	if v == nil {
		return "", false
	}
	return lookupVar(v.Addr, name)
}

// LookupPort returns the value of port variable name ("HTTP_PORTS" or
// "$HTTP_PORTS").
func (v *Vars) LookupPort(name string) (string, bool) {
	if v == nil {
		return "", false
	}
	return lookupVar(v.Port, name)
}
