using Xunit;

// The tests seed libtorch's global random generator (torch.random.manual_seed) and set its thread count: test classes
// running in parallel would draw each other's numbers.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
