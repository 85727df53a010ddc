using System.Runtime.CompilerServices;

// The generator tests inspect the pipeline's model types (caching and model-purity tests).
[assembly: InternalsVisibleTo("OptGen.Generator.Tests")]
