package runtime

// ClassifyWriteError is classify for the external tests of the sink: what
// the runner makes of an error Sink.Write returns ("rows refused",
// "transient", ...).
func ClassifyWriteError(err error) string { return classify(err).String() }
