package server

import (
	"sync"

	"github.com/go-logr/logr"

	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/wssec"
)

// ReplayStores picks the replay store a snapshot asks for: the process's
// in-memory store, or a Redis store shared by all replicas. A Redis store is
// kept while the settings stay the same and replaced when they change.
type ReplayStores struct {
	Memory wssec.ReplayStore
	Log    logr.Logger

	mu       sync.Mutex
	redis    *wssec.RedisReplayStore
	settings policy.Redis
}

// For returns the store for snap.
func (r *ReplayStores) For(snap *policy.Snapshot) wssec.ReplayStore {
	want := snap.STS.Replay.Redis
	if want == nil {
		return r.Memory
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.redis == nil || r.settings != *want {
		if r.redis != nil {
			if err := r.redis.Close(); err != nil {
				r.Log.Error(err, "closing the previous Redis replay store")
			}
		}
		r.redis = wssec.NewRedisReplayStore(wssec.RedisOptions{
			Address:  want.Address,
			Password: want.Password,
			DB:       want.DB,
			// Replicas of one STS share keys; other STSs on the server do not.
			Prefix: "trustbroker:" + snap.STS.Namespace + "/" + snap.STS.Name + ":",
		})
		r.settings = *want
		r.Log.Info("replay store: Redis", "address", want.Address, "db", want.DB)
	}
	return r.redis
}
