package gateway

// BudgetUsed and BudgetPeak expose the in-flight budget's accounting to the external tests:
// the bytes charged now, and the most ever charged at once.
func (g *Gateway) BudgetUsed() int64 { return g.budget.used.Load() }
func (g *Gateway) BudgetPeak() int64 { return g.budget.peak.Load() }
