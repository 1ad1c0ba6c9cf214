package hwaddr_test

import (
	"encoding/json"
	"fmt"

	"github.com/vifpath/vifpath/hwaddr"
)

func ExampleMAC() {
	port := struct {
		MAC hwaddr.MAC `json:"mac_address"`
	}{hwaddr.MustParse("FA-16-3E-8C-4D-2A")}
	b, _ := json.Marshal(port)
	fmt.Println(string(b))
	// Output: {"mac_address":"fa:16:3e:8c:4d:2a"}
}
