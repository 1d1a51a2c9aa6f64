import { sweep } from "./seeds.js"

sweep(1)
