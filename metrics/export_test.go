package metrics

// BuildLabels is buildLabels, for the table of build information cases.
var BuildLabels = buildLabels
