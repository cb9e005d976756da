/* llm.h - v0.1.0 - large language models in one C header: load, tokenize, generate - MIT

   (the tour is written at the end of this file's first version)
*/
