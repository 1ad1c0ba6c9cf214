package demo

// WrongBridge is the bridge BreakWrongBridge moves the VM's tap to: the
// name of libvirt's default network's bridge, a bridge no Neutron agent
// made.
const WrongBridge = "virbr0"
