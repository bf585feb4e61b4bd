package cli

import (
	"context"
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rickyjim626/xjp/internal/store"
)

// usageDimensions are the --by values, in column order.
var usageDimensions = []string{store.ByDay, store.ByModel, store.ByKey, store.ByTenant, store.ByProvider,
	store.ByUpstreamModel, store.ByEndpoint, store.ByStatus}

type usageOptions struct {
	IO        *IOStreams
	OpenStore func(context.Context) (*store.Store, error)
	Now       func() time.Time

	Since, Until                 string
	By                           []string
	Key, Model, Tenant, Provider string
	JSON, CSV                    bool
	since, until                 time.Time
}

func newCmdUsage(f *Factory, runF func(*usageOptions) error) *cobra.Command {
	opts := &usageOptions{IO: f.IO, OpenStore: f.OpenStore, Now: f.Now}
	var by string
	cmd := &cobra.Command{
		Use:   "usage [flags]",
		Short: "Report tokens, requests, errors and cost from the store",
		Long: `Report usage recorded by the gateway: requests, errors, tokens in disjoint
buckets (uncached input, cache read, cache write, output, of which reasoning)
and cost, grouped by any combination of ` + strings.Join(usageDimensions, ", ") + `.

Cost is the upstream's when it reported one (OpenRouter), else the model's
price from the config. Requests of models with no price have an unknown cost:
they are counted under UNPRICED and the cost shown is a lower bound (marked
with "+"). Tokens counted locally because the upstream reported none are
counted under ESTIMATED.

Works on the configured store directly (SQLite or Postgres), whether or not a
server is running.`,
		Example: `  xjp usage                            # last 24 hours, one total
  xjp usage --since 7d --by day,model
  xjp usage --since 2026-11-01 --until 2026-12-01 --by key --csv > november.csv
  xjp usage --since 30d --by model --key key_3fK9a0Zq1wXy --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			now := opts.Now()
			var err error
			if opts.since, err = parseSince(opts.Since, now); err != nil {
				return flagErrorf(cmd, "--since: %v", err)
			}
			if opts.Until != "" {
				if opts.until, err = parseSince(opts.Until, now); err != nil {
					return flagErrorf(cmd, "--until: %v", err)
				}
				if !opts.until.After(opts.since) {
					return flagErrorf(cmd, "--until must be after --since")
				}
			}
			for _, d := range splitList(by) {
				if !slices.Contains(usageDimensions, d) {
					return flagErrorf(cmd, "--by %q: want any of %s", d, strings.Join(usageDimensions, ", "))
				}
				if !slices.Contains(opts.By, d) {
					opts.By = append(opts.By, d)
				}
			}
			if opts.JSON && opts.CSV {
				return flagErrorf(cmd, "--json and --csv exclude each other")
			}
			if runF != nil {
				return runF(opts)
			}
			return usageRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Since, "since", "24h", "start: a duration back from now (24h, 7d) or a date (2026-11-01, UTC)")
	fl.StringVar(&opts.Until, "until", "", "end (exclusive): a duration back from now or a date (default: now)")
	fl.StringVar(&by, "by", "", "group by: comma-separated "+strings.Join(usageDimensions, ","))
	fl.StringVar(&opts.Key, "key", "", "only this key id")
	fl.StringVar(&opts.Model, "model", "", "only this model")
	fl.StringVar(&opts.Tenant, "tenant", "", "only this tenant")
	fl.StringVar(&opts.Provider, "provider", "", "only this provider")
	fl.BoolVar(&opts.JSON, "json", false, "print JSON")
	fl.BoolVar(&opts.CSV, "csv", false, "print CSV")
	return cmd
}

// parseSince reads a point in time: a duration back from now ("24h",
// "7d") or a date ("2026-11-01", RFC 3339), in UTC.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := parseDays(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q is negative", s)
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q: use a duration such as 24h or 7d, or a date such as 2026-11-01", s)
}

// usageView is a report row as printed in JSON.
type usageView struct {
	Day              string   `json:"day,omitempty"`
	Model            string   `json:"model,omitempty"`
	KeyID            string   `json:"key_id,omitempty"`
	KeyName          string   `json:"key_name,omitempty"`
	Tenant           string   `json:"tenant,omitempty"`
	Provider         string   `json:"provider,omitempty"`
	UpstreamModel    string   `json:"upstream_model,omitempty"`
	Endpoint         string   `json:"endpoint,omitempty"`
	Status           int      `json:"status,omitempty"`
	Requests         int64    `json:"requests"`
	Errors           int64    `json:"errors"`
	InputTokens      int64    `json:"input_tokens"`
	CacheReadTokens  int64    `json:"cache_read_tokens"`
	CacheWriteTokens int64    `json:"cache_write_tokens"`
	OutputTokens     int64    `json:"output_tokens"`
	ReasoningTokens  int64    `json:"reasoning_tokens"`
	CostUSD          *float64 `json:"cost_usd"`            // null when nothing had a price
	CostIsLowerBound bool     `json:"cost_is_lower_bound"` // some requests had no price
	Unpriced         int64    `json:"unpriced_requests"`
	Estimated        int64    `json:"estimated_requests"`
}

func usageRun(ctx context.Context, opts *usageOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	rows, err := st.QueryUsage(ctx, store.UsageQuery{
		Since: opts.since, Until: opts.until, By: opts.By,
		KeyID: opts.Key, Model: opts.Model, Tenant: opts.Tenant, Provider: opts.Provider,
	})
	if err != nil {
		return err
	}
	took := time.Since(start)
	names := map[string]string{}
	if slices.Contains(opts.By, store.ByKey) {
		keys, err := st.ListKeys(ctx, store.KeyFilter{IncludeRevoked: true})
		if err != nil {
			return err
		}
		for _, k := range keys {
			names[k.ID] = k.Name
		}
	}
	views := make([]usageView, 0, len(rows))
	for _, r := range rows {
		v := usageView{
			Day: r.Day, Model: r.Model, KeyID: r.KeyID, KeyName: names[r.KeyID], Tenant: r.Tenant, Provider: r.Provider,
			UpstreamModel: r.UpstreamModel, Endpoint: r.Endpoint, Status: r.Status,
			Requests: r.Requests, Errors: r.Errors, InputTokens: r.InputTokens, CacheReadTokens: r.CacheReadTokens,
			CacheWriteTokens: r.CacheWriteTokens, OutputTokens: r.OutputTokens, ReasoningTokens: r.ReasoningTokens,
			Unpriced: r.UnpricedRequests, Estimated: r.Estimated, CostIsLowerBound: r.UnpricedRequests > 0,
		}
		if r.UnpricedRequests < r.Requests || r.CostUSD > 0 {
			c := r.CostUSD
			v.CostUSD = &c
		}
		views = append(views, v)
	}
	switch {
	case opts.JSON:
		return writeJSON(opts.IO.Out, views)
	case opts.CSV:
		return usageCSV(opts, views)
	}
	if len(views) == 0 {
		if opts.IO.IsStdoutTTY() {
			fmt.Fprintf(opts.IO.ErrOut, "No usage since %s.\n", opts.since.UTC().Format(time.RFC3339))
		}
		return nil
	}
	t := newTable(opts.IO, opts.Now(), append(usageHeaders(opts.By), "requests", "errors", "input", "cache read", "cache write", "output", "reasoning", "cost", "unpriced", "estimated")...)
	var unpricedModels []string
	for _, v := range views {
		cost := "?"
		if v.CostUSD != nil {
			cost = formatUSD(*v.CostUSD)
			if v.CostIsLowerBound {
				cost += "+"
			}
		}
		t.row(append(usageKeys(opts.By, v, t.tty),
			itoa(v.Requests), itoa(v.Errors), itoa(v.InputTokens), itoa(v.CacheReadTokens), itoa(v.CacheWriteTokens),
			itoa(v.OutputTokens), itoa(v.ReasoningTokens), cost, itoa(v.Unpriced), itoa(v.Estimated))...)
		if v.Unpriced > 0 && v.Model != "" && !slices.Contains(unpricedModels, v.Model) {
			unpricedModels = append(unpricedModels, v.Model)
		}
	}
	if err := t.render(); err != nil {
		return err
	}
	if opts.IO.IsStdoutTTY() {
		fmt.Fprintf(opts.IO.ErrOut, "\n%d rows in %s.", len(views), took.Round(time.Millisecond))
		switch {
		case len(unpricedModels) > 0:
			fmt.Fprintf(opts.IO.ErrOut, " No price for %s: their cost is unknown (add price = {…} to the model in the config).", strings.Join(unpricedModels, ", "))
		case slices.ContainsFunc(views, func(v usageView) bool { return v.Unpriced > 0 }):
			fmt.Fprintf(opts.IO.ErrOut, " Some requests had no price: group --by model to see which.")
		}
		fmt.Fprintln(opts.IO.ErrOut)
	}
	return nil
}

func usageHeaders(by []string) []string {
	var h []string
	for _, d := range usageDimensions {
		if slices.Contains(by, d) {
			h = append(h, strings.ReplaceAll(d, "_", " "))
		}
	}
	return h
}

func usageKeys(by []string, v usageView, tty bool) []string {
	var out []string
	for _, d := range usageDimensions {
		if !slices.Contains(by, d) {
			continue
		}
		switch d {
		case store.ByDay:
			out = append(out, v.Day)
		case store.ByModel:
			out = append(out, v.Model)
		case store.ByKey:
			if tty && v.KeyName != "" {
				out = append(out, v.KeyName+" ("+v.KeyID+")")
			} else {
				out = append(out, v.KeyID)
			}
		case store.ByTenant:
			out = append(out, v.Tenant)
		case store.ByProvider:
			out = append(out, v.Provider)
		case store.ByUpstreamModel:
			out = append(out, v.UpstreamModel)
		case store.ByEndpoint:
			out = append(out, v.Endpoint)
		case store.ByStatus:
			out = append(out, strconv.Itoa(v.Status))
		}
	}
	return out
}

func usageCSV(opts *usageOptions, views []usageView) error {
	w := csv.NewWriter(opts.IO.Out)
	head := append(usageHeaders(opts.By), "requests", "errors", "input_tokens", "cache_read_tokens", "cache_write_tokens",
		"output_tokens", "reasoning_tokens", "cost_usd", "cost_is_lower_bound", "unpriced_requests", "estimated_requests")
	for i, h := range head {
		head[i] = strings.ReplaceAll(h, " ", "_")
	}
	w.Write(head)
	for _, v := range views {
		cost := ""
		if v.CostUSD != nil {
			cost = strconv.FormatFloat(*v.CostUSD, 'f', -1, 64)
		}
		w.Write(append(usageKeys(opts.By, v, false), itoa(v.Requests), itoa(v.Errors), itoa(v.InputTokens), itoa(v.CacheReadTokens),
			itoa(v.CacheWriteTokens), itoa(v.OutputTokens), itoa(v.ReasoningTokens), cost, strconv.FormatBool(v.CostIsLowerBound),
			itoa(v.Unpriced), itoa(v.Estimated)))
	}
	w.Flush()
	return w.Error()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func formatUSD(c float64) string {
	switch {
	case c == 0:
		return "$0"
	case c < 0.01:
		return fmt.Sprintf("$%.4f", c)
	}
	return fmt.Sprintf("$%.2f", c)
}
