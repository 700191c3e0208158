// The decorator is shared with the service APIs (libs/auth).
export { IS_PUBLIC, Public } from '@carerelay/auth';
