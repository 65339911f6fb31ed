package main

import (
	"fmt"
	"strings"
)

// cliArgs are the command-line options, named after Suricata's so that
// existing scripts and test suites (suricata-verify) run unchanged.
type cliArgs struct {
	pcap            string   // -r
	exclusiveRules  []string // -S (replaces the config's rule files)
	extraRules      []string // -s (added to them)
	logDir          string   // -l
	config          string   // -c
	profile         string   // --profile NAME
	checksum        string   // -k none|all|auto
	sets            []string // --set key=value
	runmode         string   // --runmode
	testConfig      bool     // -T
	initErrorsFatal bool     // --init-errors-fatal
	disableDetect   bool     // --disable-detection
	simulateIPS     bool     // --simulate-ips
	iface           []string // -i, --af-packet, --af-xdp, --dpdk: interfaces (a comma list is a bridge pair)
	backend         string   // capture backend named by the flag: "" (-i: the default), afpacket, afxdp, dpdk, nfqueue
	queues          []string // -q: NFQUEUE queue numbers or ranges ("0:3")
	quiet           bool     // --quiet: no summary
	cpuProfile      string   // --cpuprofile FILE (Go CPU profile of the run)
	verbose         int      // -v
	showVersion     bool     // -V / --build-info
	help            bool
}

const usage = `usage: vigil [options]          (Suricata-compatible flags)
       vigil version
       vigil rules check [-S FILE]... [-c FILE]   (rule load report; vigil rules --help)
       vigil config check FILE [--profile NAME] [--set K=V]...
       vigil profiles [show NAME]

  -r FILE                read packets from a pcap or pcapng file ("-" = stdin)
  -S FILE                load only the rules in FILE (repeatable)
  -s FILE                load the rules in FILE as well as the config's
  -c FILE                configuration file: a vigil.yaml, or a suricata.yaml
  --profile NAME         built-in deployment profile (vigil profiles lists them)
  -l DIR                 directory for eve.json and fast.log (default: config's default-log-dir, else .)
  -k none|all|auto       checksum validation (none: accept bad checksums)
  --set KEY=VALUE        override a configuration key (repeatable)
  --runmode MODE         single, workers (live default) or autofp
  -i IF[,IF2]            capture on IF with the default backend (AF_PACKET); two
                         interfaces make an inline bridge (bump in the wire)
  --af-packet=IF[,IF2]   AF_PACKET (TPACKET_V3, fanout over the workers)
  --af-xdp=IF[,IF2]      AF_XDP (one socket per queue; two interfaces: bridge)
  --dpdk                 DPDK ports from -i (build with: make build-dpdk)
  -q N[:M]               NFQUEUE queue N (or N..M), inline (repeatable)
  -T                     test the configuration and rules, then exit
  --init-errors-fatal    any rule that fails to load stops the start
  --disable-detection    decode and track flows, no rules
  --simulate-ips         apply drop/reject verdicts as an inline engine would
  --quiet                no summary on stdout
  --cpuprofile FILE      write a Go CPU profile of the packet processing to FILE
  -V, --build-info       print the version
`

// setBackend records the capture backend a flag names; two different
// backends in one run are an error.
func (a *cliArgs) setBackend(b string, err error) error {
	if err != nil {
		return err
	}
	if a.backend != "" && a.backend != b {
		return fmt.Errorf("capture: %s and %s given; one backend per run", a.backend, b)
	}
	a.backend = b
	return nil
}

// parseArgs reads Suricata-style arguments: short flags take the next
// argument or an attached value (-rFILE), long flags take "--k v" or "--k=v".
func parseArgs(argv []string) (*cliArgs, error) {
	a := &cliArgs{}
	for i := 0; i < len(argv); i++ {
		arg := argv[i]
		name, val, hasVal := arg, "", false
		if strings.HasPrefix(arg, "--") {
			if eq := strings.IndexByte(arg, '='); eq > 0 {
				name, val, hasVal = arg[:eq], arg[eq+1:], true
			}
		} else if strings.HasPrefix(arg, "-") && len(arg) > 2 {
			name, val, hasVal = arg[:2], arg[2:], true
		}
		value := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(argv) {
				return "", fmt.Errorf("option %s needs a value", name)
			}
			i++
			return argv[i], nil
		}
		flag := func() error {
			if hasVal {
				return fmt.Errorf("option %s takes no value", name)
			}
			return nil
		}
		var err error
		var v string
		switch name {
		case "-r", "--pcap-file":
			a.pcap, err = value()
		case "-S":
			v, err = value()
			a.exclusiveRules = append(a.exclusiveRules, v)
		case "-s":
			v, err = value()
			a.extraRules = append(a.extraRules, v)
		case "-l":
			a.logDir, err = value()
		case "-c":
			a.config, err = value()
		case "--profile":
			a.profile, err = value()
		case "-k":
			a.checksum, err = value()
			if err == nil && a.checksum != "none" && a.checksum != "all" && a.checksum != "auto" {
				err = fmt.Errorf("-k %q: expected none, all or auto", a.checksum)
			}
		case "--set":
			v, err = value()
			if err == nil && !strings.Contains(v, "=") {
				err = fmt.Errorf("--set %q: expected key=value", v)
			}
			a.sets = append(a.sets, v)
		case "--runmode":
			a.runmode, err = value()
		case "-i", "--af-packet", "--af-xdp":
			v, err = value()
			a.iface = append(a.iface, strings.Split(v, ",")...)
			switch name {
			case "--af-packet":
				err = a.setBackend("afpacket", err)
			case "--af-xdp":
				err = a.setBackend("afxdp", err)
			}
		case "--dpdk":
			err = a.setBackend("dpdk", flag())
		case "-q":
			v, err = value()
			a.queues = append(a.queues, v)
			err = a.setBackend("nfqueue", err)
		case "-T":
			err = flag()
			a.testConfig = true
		case "--init-errors-fatal":
			err = flag()
			a.initErrorsFatal = true
		case "--disable-detection":
			err = flag()
			a.disableDetect = true
		case "--simulate-ips":
			err = flag()
			a.simulateIPS = true
		case "--quiet":
			err = flag()
			a.quiet = true
		case "--cpuprofile":
			a.cpuProfile, err = value()
		case "-v":
			if hasVal && strings.Trim(val, "v") != "" {
				return nil, fmt.Errorf("unknown option %q", arg)
			}
			a.verbose += 1 + len(val)
		case "-V", "--build-info", "--version":
			a.showVersion = true
		case "-h", "--help":
			a.help = true
		default:
			return nil, fmt.Errorf("unknown option %q (vigil --help lists them)", arg)
		}
		if err != nil {
			return nil, err
		}
	}
	return a, nil
}
