fn main() {
    println!("cofferctl");
}
