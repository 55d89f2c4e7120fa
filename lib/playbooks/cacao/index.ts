/**
 * OASIS CACAO 2.0 playbooks ⇄ Node-RED flows (a flow tab is a playbook). See README.md beside this file for the
 * mapping and the extension that makes export → import → export lossless.
 */
export { flowToCacao } from './export';
export { cacaoToFlow } from './import';
export { validateCacao, type CacaoValidation } from './validate';
export { cacaoMetaFromFlow } from './meta';
export { CacaoError, type CacaoMeta, type FlowNode } from './types';
export { EXTENSION_ID } from './extension';
