// The tiny-model generator's public face: tests, benches and `npm run models` import from here.
export { bpeDecode, bpeEncode, bytesToUnicode } from './bpe.js';
export { tinyModel, writeTinyModel } from './files.js';
export { type ByteLevelBpe, type TensorSpec, type TinyArch, type TinyDtype, type TinyModel, type TinyModelOptions, tinyModelTensors } from './model.js';
export {
  type SafetensorsDtype,
  type SafetensorsHeader,
  type SafetensorsInput,
  type SafetensorsTensorInfo,
  buildSafetensors,
  parseSafetensorsHeader,
  safetensorsProblems,
} from './safetensors.js';
