package store

// UsageQuerySQL exposes the SQL of QueryUsage's scans to the tests (query
// plans).
func (s *Store) UsageQuerySQL(q UsageQuery) ([]string, [][]any, error) {
	_, scans, err := s.usageScans(q)
	var qs []string
	var args [][]any
	for _, sc := range scans {
		qs = append(qs, sc.sql)
		args = append(args, sc.args)
	}
	return qs, args, err
}
