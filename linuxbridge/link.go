package linuxbridge

// Link is one interface of a namespace, whatever its kind (Inspector.Link).
type Link struct {
	Name      string    `json:"name"`
	Index     int       `json:"index"`
	Up        bool      `json:"up"`
	LowerUp   bool      `json:"lower_up"`
	OperState OperState `json:"oper_state"`
	// MasterIndex is the ifindex of its master (a bridge), 0 if none.
	MasterIndex int `json:"master_index,omitempty"`
}
