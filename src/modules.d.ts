/** Binary modules (wrangler's default `Data` rule, honoured by the vitest workerd pool): an ArrayBuffer. */
declare module "*.bin" {
  const data: ArrayBuffer;
  export default data;
}
