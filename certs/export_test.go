package certs

// Internals the external tests (package certs_test) name.
const (
	AuthenticatedGroup = authenticatedGroup
	NodeUserPrefix     = nodeUserPrefix
	NodesGroup         = nodesGroup
)

// IsApproved is isApproved.
var IsApproved = isApproved
