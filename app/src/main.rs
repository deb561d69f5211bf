fn main() {
    println!("coffer");
}
