package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/vigil-ids/vigil/profiles"
)

const configCheckUsage = `usage: vigil config check FILE [--profile NAME] [--set KEY=VALUE]...

Loads FILE (a vigil.yaml, or a suricata.yaml) on top of the profile, with
the VIGIL_* environment variables and --set overrides, resolves it for this
machine and validates it. Prints "FILE: ok", and for a suricata.yaml the
keys Vigil ignores; exits 1 with the errors otherwise.
`

const profilesUsage = `usage: vigil profiles                 list the built-in profiles
       vigil profiles show NAME [--cpus N] [--memory SIZE]
                                      print a profile as a complete vigil.yaml,
                                      sized for this machine (or the one given)
`

// configCheckCommand runs `vigil config check`; args are the words after
// "config" (a leading "check" is skipped). Exit codes: 0 valid, 1 invalid,
// 2 usage.
func configCheckCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "check" {
		args = args[1:]
	}
	var file, profile string
	var sets []string
	for i := 0; i < len(args); i++ {
		name, val, hasVal := strings.Cut(args[i], "=")
		if !strings.HasPrefix(name, "--") {
			hasVal = false
			name = args[i]
		}
		value := func() (string, bool) {
			if hasVal {
				return val, true
			}
			if i+1 >= len(args) {
				return "", false
			}
			i++
			return args[i], true
		}
		switch {
		case name == "-h" || name == "--help":
			fmt.Fprint(stdout, configCheckUsage)
			return exitOK
		case name == "--profile":
			v, ok := value()
			if !ok {
				fmt.Fprintf(stderr, "vigil config check: --profile needs a name\n%s", configCheckUsage)
				return exitUsage
			}
			profile = v
		case name == "--set":
			v, ok := value()
			if !ok || !strings.Contains(v, "=") {
				fmt.Fprintf(stderr, "vigil config check: --set needs key=value\n%s", configCheckUsage)
				return exitUsage
			}
			sets = append(sets, v)
		case strings.HasPrefix(name, "-"):
			fmt.Fprintf(stderr, "vigil config check: unknown option %q\n%s", args[i], configCheckUsage)
			return exitUsage
		case file == "":
			file = args[i]
		default:
			fmt.Fprintf(stderr, "vigil config check: one file at a time (%s and %s)\n", file, args[i])
			return exitUsage
		}
	}
	if file == "" {
		fmt.Fprint(stderr, configCheckUsage)
		return exitUsage
	}
	cfg, err := profiles.Load(profiles.LoadOptions{Profile: profile, File: file, Sets: sets, Environ: os.Environ()})
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "vigil: %s\n", line)
		}
		return exitError
	}
	fmt.Fprintf(stdout, "%s: ok\n", file)
	if cfg.SuricataFile {
		fmt.Fprintf(stdout, "%s: read as a suricata.yaml on profile %s; %d keys ignored", file, cfg.Profile, len(cfg.Ignored))
		if len(cfg.Ignored) > 0 {
			fmt.Fprint(stdout, ":")
		}
		fmt.Fprintln(stdout)
		for _, k := range cfg.Ignored {
			fmt.Fprintf(stdout, "  %s\n", k)
		}
		return exitOK
	}
	fmt.Fprintf(stdout, "%s: profile %s, backend %s, runmode %s, %d workers (machine: %s)\n",
		file, cfg.Profile, cfg.Capture.Backend, cfg.Runmode, cfg.Workers, cfg.Machine)
	return exitOK
}

// profilesCommand runs `vigil profiles`; args are the words after
// "profiles". Exit codes: 0 done, 1 unknown profile, 2 usage.
func profilesCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "list" {
		if len(args) > 1 {
			fmt.Fprint(stderr, profilesUsage)
			return exitUsage
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PROFILE\tDESCRIPTION")
		for _, p := range profiles.Profiles() {
			fmt.Fprintf(tw, "%s\t%s\n", p.Name, p.Description)
		}
		tw.Flush()
		fmt.Fprintln(stdout, "\nvigil profiles show NAME prints one as a complete vigil.yaml; vigil --profile NAME uses it.")
		return exitOK
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, profilesUsage)
		return exitOK
	case "show":
	default:
		fmt.Fprintf(stderr, "vigil profiles: unknown command %q\n%s", args[0], profilesUsage)
		return exitUsage
	}
	var name string
	var cpus int
	var mem uint64
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		flag, val, hasVal := strings.Cut(rest[i], "=")
		if !strings.HasPrefix(flag, "--") {
			if name != "" {
				fmt.Fprintf(stderr, "vigil profiles show: one profile at a time\n%s", profilesUsage)
				return exitUsage
			}
			name = rest[i]
			continue
		}
		if !hasVal {
			if i+1 >= len(rest) {
				fmt.Fprintf(stderr, "vigil profiles show: %s needs a value\n%s", flag, profilesUsage)
				return exitUsage
			}
			i++
			val = rest[i]
		}
		var err error
		switch flag {
		case "--cpus":
			cpus, err = strconv.Atoi(val)
			if err == nil && cpus < 1 {
				err = fmt.Errorf("want at least 1")
			}
		case "--memory":
			mem, err = profiles.ParseSize(val)
		default:
			err = fmt.Errorf("unknown option")
		}
		if err != nil {
			fmt.Fprintf(stderr, "vigil profiles show: %s %s: %v\n%s", flag, val, err, profilesUsage)
			return exitUsage
		}
	}
	if name == "" {
		fmt.Fprintf(stderr, "vigil profiles show: which profile?\n%s", profilesUsage)
		return exitUsage
	}
	m, err := profiles.ThisMachine()
	if err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return exitError
	}
	if cpus > 0 {
		m.CPUs = cpus
	}
	if mem > 0 {
		m.MemoryBytes = mem
	}
	out, err := profiles.ProfileYAMLFor(name, m)
	if err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return exitError
	}
	stdout.Write(out)
	return exitOK
}
