// Package regions holds the one definition of region agreement (spans and boxes).
package regions

// MaxRegions is the most regions one value may hold.
const MaxRegions = 1000
