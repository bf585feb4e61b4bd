package store_test

import (
	"context"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
	"github.com/rickyjim626/xjp/internal/store"
	"github.com/rickyjim626/xjp/internal/store/storetest"
)

// BenchmarkInsertUsage writes batches of 500 rows (the writer's default),
// one transaction each; ns/op is per batch.
func BenchmarkInsertUsage(b *testing.B) {
	for _, d := range storetest.Drivers() {
		b.Run(d, func(b *testing.B) {
			st := storetest.Open(b, d)
			batch := fakeUsage(3, 500)
			b.ReportAllocs()
			for b.Loop() {
				if err := st.InsertUsage(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkRecordUsage is the request path's cost: an enqueue.
func BenchmarkRecordUsage(b *testing.B) {
	w := store.NewUsageWriter(discard{}, store.WriterOptions{MaxBuffered: 1 << 30})
	defer w.Close(context.Background())
	rec := fakeUsage(4, 1)[0]
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w.RecordUsage(rec)
		}
	})
}

type discard struct{}

func (discard) InsertUsage(context.Context, []llm.UsageRecord) error { return nil }
