import { softwareBackend } from './software-backend.js';

export { softwareBackend, type SoftwareBackendOptions } from './software-backend.js';
export default softwareBackend;
