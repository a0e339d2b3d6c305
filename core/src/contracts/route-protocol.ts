/** The routing protocol number on every route flannel-ts installs (`proto 70` in `ip route`), so it can tell its own. */
export const FLANNEL_ROUTE_PROTOCOL = 70;
