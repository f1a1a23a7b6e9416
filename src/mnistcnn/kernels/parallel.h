// One thread pool for everything: OpenMP, which Debian's oneDNN also uses, so our loops
// and dnnl_sgemm never oversubscribe the cores.
#pragma once

namespace mnistcnn::kernels {

void set_num_threads(int n);  // n <= 0: all cores
int num_threads();
int hardware_threads();

}  // namespace mnistcnn::kernels
