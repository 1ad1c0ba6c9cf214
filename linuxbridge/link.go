package linuxbridge

// Link is one interface of a namespace, whatever its kind (Inspector.Link).
type Link struct {
	// Name and Index are the interface's name and ifindex.
	Name  string `json:"name"`
	Index int    `json:"index"`
	// Up is the administrative state (IFF_UP), LowerUp the carrier
	// (IFF_LOWER_UP), OperState the kernel's operational state.
	Up        bool      `json:"up"`
	LowerUp   bool      `json:"lower_up"`
	OperState OperState `json:"oper_state"`
	// MasterIndex is the ifindex of its master (a bridge), 0 if none.
	MasterIndex int `json:"master_index,omitempty"`
}
