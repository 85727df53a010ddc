using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("OptGen.Distributed.Tests")]
